package gateway

// Recorded-move datasets: the listing and play routes, and the SDK's
// play_recorded_move and preload_dataset. A dataset that is not on disk is
// downloaded by the datasets actor (the listing asks it; a play asks moves,
// which asks it from the goroutine that loads the move), so these asks wait
// up to messages.DatasetWait rather than the usual ask deadline; a client
// that goes away ends its wait, not the download.

import (
	"context"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"reachyd/actors/kit"
	"reachyd/messages"
	"reachyd/messages/wire"
)

func (g *Gateway) datasetRoutes(api *echo.Group) {
	api.GET("/move/recorded-move-datasets/list/*", g.listDataset)
	api.POST("/move/play/recorded-move-dataset/*", g.playRecorded)
}

// datasetCtx is the deadline of an ask that may wait for a download.
func datasetCtx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, messages.DatasetWait)
}

// listDataset answers with the dataset's moves, downloading the dataset
// first when it is not on disk, as the reference's RecordedMoves does. Like
// the reference's route, it does not need the robot backend.
func (g *Gateway) listDataset(c echo.Context) error {
	ctx, cancel := datasetCtx(c.Request().Context())
	defer cancel()
	r, err := kit.Ask[messages.DatasetMoves](ctx, g.sys.Kit, g.sys.Datasets, &messages.ListDataset{Dataset: c.Param("*")})
	if err != nil {
		return g.fail(c, err, false)
	}
	b := []byte{'['}
	for i, n := range r.Moves {
		if i > 0 {
			b = append(b, ',')
		}
		b = wire.AppendString(b, n)
	}
	return jsonBytes(c, append(b, ']'))
}

func (g *Gateway) playRecorded(c echo.Context) error {
	rest := strings.TrimSuffix(c.Param("*"), "/")
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 || i == len(rest)-1 {
		return detail(c, http.StatusNotFound, "Not Found")
	}
	m := &messages.StartMove{ID: uuid.NewString(), Origin: messages.OriginREST, Kind: messages.MoveRecorded,
		Dataset: rest[:i], Move: rest[i+1:]}
	ctx, cancel := datasetCtx(c.Request().Context())
	defer cancel()
	a, err := kit.Ask[messages.MoveAccepted](ctx, g.sys.Kit, g.sys.Moves, m)
	if err != nil {
		return g.fail(c, err, true)
	}
	return moveUUID(c, a.ID)
}

// peerRecordedMove is play_recorded_move on the data channel: the reply
// says whether the move was found (downloaded if need be) and started, not
// when it ends.
func (g *Gateway) peerRecordedMove(c *cmd, m *messages.StartMove) {
	ctx, cancel := datasetCtx(context.Background())
	defer cancel()
	_, err := kit.Ask[messages.MoveAccepted](ctx, g.sys.Kit, g.sys.Moves, m)
	c.reply(func(o *wire.Obj) {
		o.String("command", "play_recorded_move")
		if err != nil {
			o.String("status", "error")
			o.String("error", g.errText(err, true))
			return
		}
		o.String("status", "ok")
		o.String("move_name", m.Move)
	})
}

// preloadDataset is preload_dataset: as the reference's snapshot_download,
// it asks the Hub for the dataset's current commit and downloads what the
// cache lacks; offline, a dataset on disk is used as it is. The data
// channel's peer gets the reference's reply (with the dataset's local
// path); /ws/sdk gets none, as in the reference.
func (g *Gateway) preloadDataset(c *cmd, dataset string) {
	m := &messages.EnsureDataset{Dataset: dataset, Refresh: true}
	if c.peer == nil {
		g.sys.Kit.Tell(g.sys.Datasets, m)
		return
	}
	ctx, cancel := datasetCtx(context.Background())
	defer cancel()
	r, err := kit.Ask[messages.DatasetReady](ctx, g.sys.Kit, g.sys.Datasets, m)
	if err != nil {
		g.log.Warn("preload_dataset failed", "dataset", dataset, "err", g.errText(err, false))
	}
	c.reply(func(o *wire.Obj) {
		o.String("command", "preload_dataset")
		if err != nil {
			o.String("status", "error")
			o.String("dataset_name", dataset)
			o.String("error", "download failed (see daemon logs)")
			return
		}
		o.String("status", "ok")
		o.String("dataset_name", dataset)
		o.String("local_path", r.Path)
	})
}
