// Package skills is the skill loader: the skills folder (uploads, enabled
// and disabled files), the registry of the skills that skill managers
// publish, missions (one running call of a skill) with their lifecycle,
// auto-start skills, and the daemon's own capabilities as built-in skills.
//
// Skill code never runs in the daemon: the skill host (package host), a
// Python process reachyd ships, imports the files and runs the skills. It
// is attached to the topic broker like any pymirokai SkillManager and
// speaks the same protocol (RPC_command, RPC_result, skills_list_result),
// so an external skill manager can attach too.
//
// Core is the pure part: registry, missions, auto-start bookkeeping. It
// returns effects for the actor shell to carry out.
//
// Several managers may list the same skill (an external SkillManager
// watching the skills folder as the host does), and pymirokai's
// SkillManager runs every RPC_command run whose skill it knows. So a
// mission is routed to exactly one manager (Lookup: the preferred one,
// reachyd's skill host, when it lists the skill, else the manager whose
// list is the newest: a live SkillManager lists every second, while a
// disconnected one's list lingers), its RPC_command is addressed to that manager alone
// (the shell delivers it to that manager only), and only that manager's
// RPC_result ends it.
package skills

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"reachyd/messages"
)

// Mission statuses, as pymirokai's SkillManager reports them.
const (
	StatusCompleted = "COMPLETED"
	StatusCancelled = "CANCELLED"
	StatusError     = "ERROR"
)

// MsgMissionNotFound is the magic message pymirokai's Mission relies on.
const MsgMissionNotFound = "Mission not found"

// Param is one parameter of a skill.
type Param struct {
	Name       string          `json:"name"`
	Default    json.RawMessage `json:"default"`
	Annotation string          `json:"annotation"`
}

// Skill is one entry of the registry.
type Skill struct {
	Name      string
	Filename  string // "" for built-ins
	Manager   string // the topic client that published it; "" for built-ins
	Level     messages.AccessLevel
	AutoStart bool
	BuiltIn   bool
	Params    []Param
	// Entry is the entry as a skill manager published it
	// ({"skill_info", "parameters", "filename"}), served by get_skills.
	Entry json.RawMessage
}

// Principal is who calls: a session of the auth actor, or the daemon.
type Principal struct {
	ClientID string
	Level    messages.AccessLevel
}

// System is the principal of auto-start missions.
var System = Principal{ClientID: "reachyd", Level: messages.LevelEnchanter}

// Mission is one call of a skill.
type Mission struct {
	ID        string
	Skill     string
	Owner     string
	Manager   string // the manager it was sent to; "" for built-ins
	BuiltIn   bool
	AutoStart bool
	Params    map[string]json.RawMessage

	Started  bool
	StartMsg string

	Done      bool
	Status    string
	Value     json.RawMessage
	Exception string

	CancelRequested bool
	CreatedAt       time.Time
	EndedAt         time.Time
}

// Effect kinds for the shell.
type (
	// Dispatch sends an RPC_command run for a user skill to Manager, and
	// to no other manager.
	Dispatch struct {
		MissionID, Skill, Manager string
		Params                    map[string]json.RawMessage
	}
	// SendCancel sends an RPC_command cancel for a user skill to Manager.
	SendCancel struct{ Skill, RequestID, Manager string }
	// StartBuiltin runs a built-in skill in the daemon.
	StartBuiltin struct {
		MissionID, Skill string
		Params           map[string]json.RawMessage
	}
	// StopBuiltin stops a running built-in skill.
	StopBuiltin struct{ MissionID string }
	// Ended tells the shell a mission is over (answer its waiters).
	Ended struct{ MissionID string }
)

// Effect is one of the types above.
type Effect any

// autoState is the bookkeeping of one auto-start skill.
type autoState struct {
	mission   string // running mission, if any
	failures  int
	next      time.Time
	cancelled bool // cancelled by a user: not restarted until it reappears
	startedAt time.Time
}

// Limits of the core.
const (
	keepFinished    = 10 * time.Minute
	maxFinished     = 1000
	autoBackoffBase = time.Second
	autoBackoffMax  = time.Minute
	// autoHealthy: an auto-start skill that ran this long before failing
	// starts its backoff afresh.
	autoHealthy = time.Minute
)

// Core is the pure skills state. Not safe for concurrent use.
type Core struct {
	newID     func() string
	builtins  map[string]Skill
	managers  map[string]map[string]Skill  // manager -> skills it published
	errors    map[string]map[string]string // manager -> file ("" if unnamed) -> error text
	finishing map[string]map[string]bool   // manager -> skills whose cancelled run still runs
	preferred string                       // the manager chosen first (reachyd's skill host)
	listedAt  map[string]time.Time         // manager -> time of its last list
	missions  map[string]*Mission
	order     []string // mission ids, oldest first
	auto      map[string]*autoState
}

// NewCore returns a core with the given built-in skills. newID makes
// mission ids (they must never look like JSON scalars: "m-<hex>").
func NewCore(builtins []Skill, newID func() string) *Core {
	c := &Core{newID: newID, builtins: map[string]Skill{}, managers: map[string]map[string]Skill{},
		errors: map[string]map[string]string{}, finishing: map[string]map[string]bool{}, listedAt: map[string]time.Time{},
		missions: map[string]*Mission{}, auto: map[string]*autoState{}}
	for _, b := range builtins {
		b.BuiltIn = true
		c.builtins[b.Name] = b
	}
	return c
}

// Prefer names the manager that runs a skill whenever it lists it.
func (c *Core) Prefer(manager string) { c.preferred = manager }

// Lookup finds a skill: built-ins first (a user skill cannot shadow the
// daemon's own), then the preferred manager's, then the skill of the
// manager that listed last. Its Manager is where a mission of it runs.
func (c *Core) Lookup(name string) (Skill, bool) {
	if s, ok := c.builtins[name]; ok {
		return s, true
	}
	if s, ok := c.managers[c.preferred][name]; ok {
		return s, true
	}
	var found Skill
	var at time.Time
	ok := false
	for _, m := range sortedKeys(c.managers) {
		if s, has := c.managers[m][name]; has && (!ok || c.listedAt[m].After(at)) {
			found, at, ok = s, c.listedAt[m], true
		}
	}
	return found, ok
}

// Skills lists every skill, built-ins first, each group by name.
func (c *Core) Skills() []Skill {
	var out []Skill
	for _, n := range sortedKeys(c.builtins) {
		out = append(out, c.builtins[n])
	}
	seen := map[string]bool{}
	var user []Skill
	for _, m := range sortedKeys(c.managers) {
		for _, n := range sortedKeys(c.managers[m]) {
			if !seen[n] && c.builtins[n].Name == "" {
				seen[n] = true
				s, _ := c.Lookup(n)
				user = append(user, s)
			}
		}
	}
	sort.Slice(user, func(i, j int) bool { return user[i].Name < user[j].Name })
	return append(out, user...)
}

// Errors returns the managers' current skill_manager_errors texts, keyed
// by file (prefixed with the manager's name when it is not main).
func (c *Core) Errors(main string) map[string]string {
	out := map[string]string{}
	for m, files := range c.errors {
		for f, text := range files {
			k := f
			if m != main || f == "" {
				k = m + ":" + f
			}
			out[k] = text
		}
	}
	return out
}

// SetError records a manager's skill_manager_errors text for a file (""
// clears it).
func (c *Core) SetError(manager, file, text string) {
	if text == "" {
		delete(c.errors[manager], file)
		return
	}
	if c.errors[manager] == nil {
		c.errors[manager] = map[string]string{}
	}
	c.errors[manager][file] = text
}

// CallResult is the reply to a skill call: pymirokai's {"called", "msg"}.
type CallResult struct {
	Called bool
	Msg    string // the mission id when called, else why not
}

// Call starts a mission of a skill for p.
func (c *Core) Call(p Principal, name string, params map[string]json.RawMessage, now time.Time) (CallResult, []Effect) {
	s, ok := c.Lookup(name)
	if !ok {
		return CallResult{Msg: fmt.Sprintf("Skill '%s' not found.", name)}, nil
	}
	if !p.Level.Allows(s.Level) {
		return CallResult{Msg: fmt.Sprintf("Access denied: skill '%s' needs the %s access level", name, s.Level)}, nil
	}
	if msg := checkParams(s, params); msg != "" {
		return CallResult{Msg: msg}, nil
	}
	if !s.BuiltIn {
		// A skill manager runs one instance of a skill at a time.
		for _, m := range c.missions {
			if !m.Done && m.Skill == name {
				return CallResult{Msg: fmt.Sprintf("Skill '%s' is already running (mission %s).", name, m.ID)}, nil
			}
		}
		if c.finishing[s.Manager][name] {
			return CallResult{Msg: fmt.Sprintf("Skill '%s' is still finishing a cancelled run: a sync skill's thread "+
				"cannot be interrupted, and the skill can start again when it returns.", name)}, nil
		}
	}
	m := &Mission{ID: c.newID(), Skill: name, Owner: p.ClientID, Manager: s.Manager, BuiltIn: s.BuiltIn, Params: params, CreatedAt: now}
	c.missions[m.ID] = m
	c.order = append(c.order, m.ID)
	c.prune(now)
	if s.BuiltIn {
		return CallResult{Called: true, Msg: m.ID}, []Effect{StartBuiltin{MissionID: m.ID, Skill: name, Params: params}}
	}
	m.Started, m.StartMsg = true, "Mission started"
	return CallResult{Called: true, Msg: m.ID}, []Effect{Dispatch{MissionID: m.ID, Skill: name, Manager: s.Manager, Params: params}}
}

// checkParams refuses parameters a skill does not take (the manager would
// refuse them too, after the mission was created) and missing ones without
// a default.
func checkParams(s Skill, params map[string]json.RawMessage) string {
	if s.Params == nil && !s.BuiltIn {
		return "" // the manager published no signature: it decides
	}
	known := map[string]bool{}
	for _, p := range s.Params {
		known[p.Name] = true
		if _, ok := params[p.Name]; !ok && isRequired(p) {
			return fmt.Sprintf("Skill '%s' needs the parameter '%s'.", s.Name, p.Name)
		}
	}
	for k := range params {
		if !known[k] {
			return fmt.Sprintf("Skill '%s' has no parameter '%s'.", s.Name, k)
		}
	}
	return ""
}

// isRequired: the SkillManager serializes a missing default as the string
// "null" (an explicit None default is JSON null).
func isRequired(p Param) bool {
	return string(p.Default) == `"null"` || len(p.Default) == 0
}

// BuiltinStarted marks a built-in mission as started (or failed to start).
func (c *Core) BuiltinStarted(id string, err error, now time.Time) []Effect {
	m, ok := c.missions[id]
	if !ok || m.Done {
		return nil
	}
	if err != nil {
		m.StartMsg = err.Error()
		return c.Finish(id, StatusError, nil, err.Error(), now)
	}
	m.Started, m.StartMsg = true, "Mission started"
	if m.CancelRequested {
		return []Effect{StopBuiltin{MissionID: id}}
	}
	return nil
}

// Result ends a user skill's mission with the RPC_result a manager
// published. ok is false (and nothing changes) when the mission was not
// sent to that manager: another manager's answer (a refusal of a skill it
// does not know, or a run it should not have made) must not end it.
func (c *Core) Result(manager string, r RPCResult, now time.Time) (fx []Effect, ok bool) {
	m, found := c.missions[r.ID]
	if !found || m.BuiltIn || m.Manager != manager {
		return nil, false
	}
	return c.Finish(r.ID, r.Status, r.Value, r.Exception, now), true
}

// SetFinishing records which skills of a manager are still finishing a
// cancelled run (the "finishing" key of its skills list): they cannot
// start again until it ends.
func (c *Core) SetFinishing(manager string, names []string) {
	if len(names) == 0 {
		delete(c.finishing, manager)
		return
	}
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	c.finishing[manager] = set
}

// Finish ends a mission (once; later results are ignored).
func (c *Core) Finish(id, status string, value json.RawMessage, exception string, now time.Time) []Effect {
	m, ok := c.missions[id]
	if !ok || m.Done {
		return nil
	}
	m.Done, m.Status, m.Value, m.Exception, m.EndedAt = true, status, value, exception, now
	if status != StatusCompleted {
		m.Value = nil
	}
	if m.AutoStart {
		c.autoEnded(m, now)
	}
	return []Effect{Ended{MissionID: id}}
}

// Mission returns a copy of a mission.
func (c *Core) Mission(id string) (Mission, bool) {
	m, ok := c.missions[id]
	if !ok {
		return Mission{}, false
	}
	return *m, true
}

// Running lists the missions not yet done, oldest first.
func (c *Core) Running() []Mission {
	var out []Mission
	for _, id := range c.order {
		if m := c.missions[id]; m != nil && !m.Done {
			out = append(out, *m)
		}
	}
	return out
}

// CancelResult is pymirokai's {"cancelled", "msg"}.
type CancelResult struct {
	Cancelled bool
	Msg       string
}

// Cancel asks a mission to stop. A user skill is cancelled through its
// manager (by name, as the SkillManager keys its tasks); the mission ends
// when the manager reports it.
func (c *Core) Cancel(id string, requestID string, now time.Time) (CancelResult, []Effect) {
	m, ok := c.missions[id]
	if !ok {
		return CancelResult{Msg: MsgMissionNotFound}, nil
	}
	if m.Done {
		return CancelResult{Msg: fmt.Sprintf("Mission %s already ended: %s", id, m.Status)}, nil
	}
	if m.AutoStart {
		if st := c.auto[m.Skill]; st != nil {
			st.cancelled = true
		}
	}
	first := !m.CancelRequested
	m.CancelRequested = true
	var fx []Effect
	switch {
	case !first:
	case m.BuiltIn && m.Started:
		fx = append(fx, StopBuiltin{MissionID: id})
	case m.BuiltIn:
		// Not started yet: stopped as soon as it starts (BuiltinStarted).
	default:
		fx = append(fx, SendCancel{Skill: m.Skill, RequestID: requestID, Manager: m.Manager})
	}
	return CancelResult{Cancelled: true, Msg: "Cancellation requested"}, fx
}

// CancelClient cancels every running mission of a client (pymirokai's
// cancel_client_missions, sent when its session ends).
func (c *Core) CancelClient(owner string, newRequestID func() string, now time.Time) ([]string, []Effect) {
	var ids []string
	var fx []Effect
	for _, m := range c.Running() {
		if m.Owner == owner {
			r, e := c.Cancel(m.ID, newRequestID(), now)
			if r.Cancelled {
				ids = append(ids, m.ID)
				fx = append(fx, e...)
			}
		}
	}
	return ids, fx
}

// SkillsListed replaces a manager's skills with a skills_list_result. The
// running missions the manager runs of skills that disappeared from its
// list are cancelled (the file was removed or disabled) and end at once as
// CANCELLED.
func (c *Core) SkillsListed(manager string, list map[string]Skill, newRequestID func() string, now time.Time) []Effect {
	old := c.managers[manager]
	for n, s := range list {
		s.Name, s.Manager = n, manager
		list[n] = s
	}
	c.listedAt[manager] = now
	c.managers[manager] = list
	var fx []Effect
	for _, n := range sortedKeys(old) {
		if _, still := list[n]; !still {
			fx = append(fx, c.vanished(manager, n, newRequestID, now)...)
		}
	}
	// Auto-start skills that appeared (again) are armed.
	for n, s := range list {
		if !s.AutoStart {
			continue
		}
		if st := c.auto[n]; st == nil {
			c.auto[n] = &autoState{next: now}
		} else if _, had := old[n]; !had {
			st.cancelled, st.failures, st.next = false, 0, now
		}
	}
	return fx
}

// vanished ends the missions a manager runs of a skill it no longer
// lists.
func (c *Core) vanished(manager, name string, newRequestID func() string, now time.Time) []Effect {
	var fx []Effect
	for _, m := range c.Running() {
		if m.Skill != name || m.BuiltIn || m.Manager != manager {
			continue
		}
		fx = append(fx, SendCancel{Skill: name, RequestID: newRequestID(), Manager: manager})
		c.missions[m.ID].CancelRequested = true
		fx = append(fx, c.Finish(m.ID, StatusCancelled, nil, "", now)...)
	}
	if _, still := c.Lookup(name); !still {
		delete(c.auto, name)
	}
	return fx
}

// ManagerGone forgets a manager (its process ended): its skills leave the
// registry and the missions it ran end in ERROR.
func (c *Core) ManagerGone(manager, reason string, now time.Time) []Effect {
	delete(c.managers, manager)
	delete(c.errors, manager)
	delete(c.finishing, manager)
	delete(c.listedAt, manager)
	var fx []Effect
	for _, m := range c.Running() {
		if m.BuiltIn || m.Manager != manager {
			continue
		}
		fx = append(fx, c.Finish(m.ID, StatusError, nil, reason, now)...)
	}
	return fx
}

// ---- auto-start ------------------------------------------------------------

// AutoTick starts the auto-start skills that are due.
func (c *Core) AutoTick(now time.Time) []Effect {
	var fx []Effect
	for _, n := range sortedKeys(c.auto) {
		st := c.auto[n]
		if st.cancelled || st.mission != "" || now.Before(st.next) {
			continue
		}
		s, ok := c.Lookup(n)
		if !ok || !s.AutoStart {
			continue
		}
		r, e := c.Call(System, n, map[string]json.RawMessage{}, now)
		if !r.Called {
			st.failures++
			st.next = now.Add(backoff(st.failures))
			continue
		}
		m := c.missions[r.Msg]
		m.AutoStart = true
		st.mission, st.startedAt = m.ID, now
		fx = append(fx, e...)
	}
	return fx
}

func (c *Core) autoEnded(m *Mission, now time.Time) {
	st := c.auto[m.Skill]
	if st == nil || st.mission != m.ID {
		return
	}
	st.mission = ""
	switch {
	case m.Status == StatusCompleted:
		st.failures = 0
		st.cancelled = true // done: not restarted until it reappears
	case m.CancelRequested:
		st.cancelled = true
	default:
		if now.Sub(st.startedAt) >= autoHealthy {
			st.failures = 0
		}
		st.failures++
		st.next = now.Add(backoff(st.failures))
	}
}

func backoff(failures int) time.Duration {
	d := autoBackoffBase
	for i := 1; i < failures && d < autoBackoffMax; i++ {
		d *= 2
	}
	return min(d, autoBackoffMax)
}

// AutoRunning lists the auto-start skills with a running mission.
func (c *Core) AutoRunning() []string {
	var out []string
	for _, n := range sortedKeys(c.auto) {
		if c.auto[n].mission != "" {
			out = append(out, n)
		}
	}
	return out
}

// CancelAuto cancels an auto-start skill's mission and keeps it from
// restarting (until its file is enabled or uploaded again, or the daemon
// restarts).
func (c *Core) CancelAuto(name, requestID string, now time.Time) (CancelResult, []Effect) {
	st := c.auto[name]
	if st == nil {
		return CancelResult{Msg: fmt.Sprintf("'%s' is not an auto-start skill", name)}, nil
	}
	st.cancelled = true
	if st.mission == "" {
		return CancelResult{Cancelled: true, Msg: "Auto-start skill stopped"}, nil
	}
	return c.Cancel(st.mission, requestID, now)
}

// NextAuto is when AutoTick next has work (zero if none is waiting).
func (c *Core) NextAuto() time.Time {
	var next time.Time
	for _, st := range c.auto {
		if st.cancelled || st.mission != "" {
			continue
		}
		if next.IsZero() || st.next.Before(next) {
			next = st.next
		}
	}
	return next
}

// prune drops finished missions past keepFinished, then the oldest
// finished ones while over maxFinished.
func (c *Core) prune(now time.Time) {
	kept := c.order[:0]
	finished := 0
	for _, id := range c.order {
		if m := c.missions[id]; m.Done {
			finished++
		}
	}
	for _, id := range c.order {
		m := c.missions[id]
		if m.Done && (now.Sub(m.EndedAt) > keepFinished || finished > maxFinished) {
			delete(c.missions, id)
			finished--
			continue
		}
		kept = append(kept, id)
	}
	c.order = kept
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ---- the skills list a manager publishes ----------------------------------

// ParseSkillsList reads the data of a skills_list_result frame:
// {<fn>: {"skill_info": {...}, "parameters": [...], "filename": "x.py"}}
// (data may arrive as a JSON string holding the object).
func ParseSkillsList(data json.RawMessage) (map[string]Skill, error) {
	data = unquoteJSON(data)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("skills list: %v", err)
	}
	out := map[string]Skill{}
	for name, entry := range raw {
		var e struct {
			Info       json.RawMessage `json:"skill_info"`
			Parameters json.RawMessage `json:"parameters"`
			Filename   string          `json:"filename"`
		}
		if err := json.Unmarshal(unquoteJSON(entry), &e); err != nil {
			continue
		}
		s := Skill{Name: name, Filename: e.Filename, Level: messages.LevelUser, Entry: entry}
		var info map[string]json.RawMessage
		if json.Unmarshal(unquoteJSON(e.Info), &info) == nil {
			if lv, ok := info["access_level"]; ok {
				if l, err := parseLevel(lv); err == nil {
					s.Level = l
				}
			}
			if as, ok := info["auto_start"]; ok {
				s.AutoStart = truthy(as)
			}
		}
		var params []Param
		if json.Unmarshal(unquoteJSON(e.Parameters), &params) == nil {
			s.Params = params
			if s.Params == nil {
				s.Params = []Param{}
			}
		}
		out[name] = s
	}
	return out, nil
}

// unquoteJSON decodes a JSON string holding JSON (pymirokai double-encodes).
func unquoteJSON(b json.RawMessage) json.RawMessage {
	t := strings.TrimSpace(string(b))
	if len(t) > 0 && t[0] == '"' {
		var s string
		if json.Unmarshal([]byte(t), &s) == nil {
			s = strings.TrimSpace(s)
			if len(s) > 0 && (s[0] == '{' || s[0] == '[') && json.Valid([]byte(s)) {
				return json.RawMessage(s)
			}
		}
	}
	return b
}

func parseLevel(v json.RawMessage) (messages.AccessLevel, error) {
	var n int
	if json.Unmarshal(v, &n) == nil {
		return messages.ParseAccessLevel(fmt.Sprint(n))
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return 0, err
	}
	return messages.ParseAccessLevel(s)
}

func truthy(v json.RawMessage) bool {
	switch strings.ToLower(strings.Trim(strings.TrimSpace(string(v)), `"`)) {
	case "true", "1", "yes":
		return true
	}
	return false
}

// RPCResult is a decoded RPC_result frame of a run.
type RPCResult struct {
	ID        string
	Status    string
	Value     json.RawMessage
	Exception string
}

// ParseRPCResult decodes an RPC_result frame. ok is false for frames that
// are not the result of a run (a cancel's acknowledgement, garbage).
func ParseRPCResult(frame []byte) (RPCResult, bool) {
	var f struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(frame, &f) != nil {
		return RPCResult{}, false
	}
	var body struct {
		ID     json.RawMessage `json:"id"`
		Result *struct {
			Value     json.RawMessage `json:"value"`
			Status    string          `json:"status"`
			Exception *string         `json:"exception"`
		} `json:"result"`
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(unquoteJSON(f.Data), &body) != nil {
		return RPCResult{}, false
	}
	var id string
	if json.Unmarshal(body.ID, &id) != nil || id == "" {
		return RPCResult{}, false
	}
	switch {
	case body.Error != nil:
		return RPCResult{ID: id, Status: StatusError, Exception: body.Error.Message}, true
	case body.Result != nil:
		r := RPCResult{ID: id, Status: body.Result.Status, Value: body.Result.Value}
		if body.Result.Exception != nil {
			r.Exception = *body.Result.Exception
		}
		switch r.Status {
		case StatusCompleted, StatusCancelled, StatusError:
		default:
			r.Status, r.Exception = StatusError, fmt.Sprintf("unknown status %q from the skill manager", body.Result.Status)
		}
		if len(r.Value) == 0 {
			r.Value = json.RawMessage("null")
		}
		return r, true
	}
	return RPCResult{}, false
}

// DropFile removes the skills of one file from a manager's list (the file
// was disabled or removed: its missions are cancelled now, not at the
// manager's next scan).
func (c *Core) DropFile(manager, filename string, newRequestID func() string, now time.Time) []Effect {
	old := c.managers[manager]
	if old == nil {
		return nil
	}
	kept := map[string]Skill{}
	for n, s := range old {
		if s.Filename != filename {
			kept[n] = s
		}
	}
	if len(kept) == len(old) {
		return nil
	}
	return c.SkillsListed(manager, kept, newRequestID, now)
}
