package topics

import (
	"bytes"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/kit"
	"reachyd/messages"
	"reachyd/messages/wire"
)

// Options configure the broker actor.
type Options struct {
	// The owners of the robot topics' data. A nil PID disables its topic.
	Hub, Daemon, Apps, Motorbus *actor.PID
	// StateHz is the rate of robot_state (default 10 Hz). The status topics
	// are checked once a second and published when they change.
	StateHz float64
	Cell    *Cell
	Log     *slog.Logger
}

// Cell keeps the broker (clients and subscriptions) across restarts of the
// actor.
type Cell struct {
	b    *Broker
	last map[string][]byte // latest frame of each status topic
}

// NewCell returns a cell with an empty broker.
func NewCell() *Cell { return &Cell{b: NewBroker(), last: map[string][]byte{}} }

// Actor is the broker actor.
type Actor struct {
	opt   Options
	b     *Broker
	log   *slog.Logger
	tick  int
	timer *time.Timer
	unsub func()
}

// feedTick is the robot topics' clock. It names the incarnation that armed
// it: a tick armed before a restart and delivered after it is dropped, or
// every restart would add a feed loop.
type feedTick struct{ from *Actor }

// Props returns the broker actor's props.
func Props(opt Options) *actor.Props {
	if opt.Cell == nil {
		opt.Cell = NewCell()
	}
	if opt.StateHz <= 0 {
		opt.StateHz = 10
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &Actor{opt: opt, b: opt.Cell.b, log: opt.Log.With("actor", "topics")}
	}, kit.CrashOption())
}

// Receive implements actor.Actor.
func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.started(ctx)
	case *actor.Stopping, *actor.Restarting:
		// The timer and the subscription are this incarnation's: the next
		// one arms and subscribes again in Started.
		if a.timer != nil {
			a.timer.Stop()
		}
		if a.unsub != nil {
			a.unsub()
			a.unsub = nil
		}
	case *messages.TopicAttach:
		kit.Reply(ctx, a.attach(m))
	case *messages.TopicDetach:
		a.b.Detach(m.Client)
	case *messages.TopicSubscribe:
		if err := a.b.Subscribe(m.Client, m.Topic); err != nil {
			a.b.Notify(m.Client, ErrorFrame(err.Error()))
			return
		}
		// A new subscriber of a status topic gets its current value.
		if f := a.opt.Cell.last[m.Topic]; f != nil {
			a.b.SendTo(m.Client, m.Topic, f)
		}
	case *messages.TopicUnsubscribe:
		a.b.Unsubscribe(m.Client, m.Topic)
	case *messages.TopicPublish:
		a.publish(m.Client, m.Topic, m.Frame)
	case *messages.GetTopicStats:
		kit.Reply(ctx, a.b.Stats())
	case messages.JobBatch:
		a.jobBatch(m)
	case *feedTick:
		if m.from == a {
			a.feed(ctx)
		}
	}
}

func (a *Actor) attach(m *messages.TopicAttach) any {
	if err := a.b.Attach(m); err != nil {
		return err
	}
	return messages.TopicAck{}
}

func (a *Actor) publish(from, topic string, frame []byte) {
	dropped, err := a.b.Publish(from, topic, frame)
	if err != nil && from != "" {
		a.b.Notify(from, ErrorFrame(err.Error()))
	}
	for _, id := range dropped {
		a.log.Info("topic client dropped: too slow or gone", "client", id)
	}
}

func (a *Actor) started(ctx actor.Context) {
	self, root := ctx.Self(), ctx.ActorSystem().Root
	sub := ctx.ActorSystem().EventStream.Subscribe(func(evt any) {
		if e, ok := evt.(messages.JobBatch); ok {
			root.Send(self, e)
		}
	})
	a.unsub = func() { ctx.ActorSystem().EventStream.Unsubscribe(sub) }
	a.schedule(ctx)
}

func (a *Actor) period() time.Duration {
	return time.Duration(float64(time.Second) / a.opt.StateHz)
}

func (a *Actor) schedule(ctx actor.Context) {
	self, root := ctx.Self(), ctx.ActorSystem().Root
	tick := &feedTick{from: a}
	a.timer = time.AfterFunc(a.period(), func() { root.Send(self, tick) })
}

// feed publishes the robot topics that have subscribers: robot_state at
// StateHz, the status topics once a second when they changed.
func (a *Actor) feed(ctx actor.Context) {
	defer a.schedule(ctx)
	a.tick++
	timeout := a.period()
	if a.opt.Hub != nil && a.b.Subscribers(TopicRobotState) > 0 {
		kit.AskFrom(ctx, a.opt.Hub, &messages.GetState{}, timeout, func(reply any, err error) {
			if s, ok := reply.(*messages.RobotState); ok && err == nil {
				f := wire.FullStateFlags{ControlMode: true, HeadPose: true, PoseMatrix: true, HeadJoints: true, BodyYaw: true, AntennaPositions: true}
				a.publish("", TopicRobotState, Frame(TopicRobotState, "dict", wire.FullState(nil, s, f, time.Now(), wire.Pydantic)))
			}
		})
	}
	if a.tick%int(max(1, a.opt.StateHz)) != 0 {
		return
	}
	if a.opt.Daemon != nil && a.b.Subscribers(TopicDaemonStatus) > 0 {
		kit.AskFrom(ctx, a.opt.Daemon, &messages.GetDaemonStatus{}, time.Second, func(reply any, err error) {
			if s, ok := reply.(*messages.DaemonStatus); ok && err == nil {
				a.changed(TopicDaemonStatus, wire.DaemonStatus(nil, s, wire.Pydantic))
			}
		})
	}
	if a.opt.Apps != nil && a.b.Subscribers(TopicAppStatus) > 0 {
		kit.AskFrom(ctx, a.opt.Apps, &messages.GetAppStatus{}, time.Second, func(reply any, err error) {
			if s, ok := reply.(messages.CurrentApp); ok && err == nil {
				a.changed(TopicAppStatus, wire.AppStatus(s.Status))
			}
		})
	}
	if a.opt.Motorbus != nil && a.b.Subscribers(TopicMotorHealth) > 0 {
		kit.AskFrom(ctx, a.opt.Motorbus, &messages.GetMotorStatus{}, time.Second, func(reply any, err error) {
			if s, ok := reply.(messages.MotorStatus); ok && err == nil && s.HaveHealth {
				o := wire.ObjStart(nil)
				o.Style = wire.Pydantic
				o.String("mode", string(s.Mode))
				o.Key("motors")
				o.B = wire.MotorHealth(o.B, &s.Health, &s, wire.Pydantic)
				a.changed(TopicMotorHealth, o.End())
			}
		})
	}
}

// changed publishes a status topic when its data differs from the last.
func (a *Actor) changed(topic string, data []byte) {
	frame := Frame(topic, "dict", data)
	if bytes.Equal(a.opt.Cell.last[topic], frame) {
		return
	}
	a.opt.Cell.last[topic] = frame
	a.publish("", topic, frame)
}

func (a *Actor) jobBatch(m messages.JobBatch) {
	if a.b.Subscribers(TopicJobProgress) == 0 {
		return
	}
	o := wire.ObjStart(nil)
	o.String("job_id", m.ID)
	o.String("command", m.Command)
	o.String("status", string(m.Status))
	o.Strings("lines", m.Lines)
	frame := Frame(TopicJobProgress, "dict", o.End())
	if len(frame) > messages.MaxTopicFrame {
		return // a batch that large is readable from the job itself
	}
	a.publish("", TopicJobProgress, frame)
}
