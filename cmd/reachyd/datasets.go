package main

// Recorded-move datasets: where they are looked for and downloaded, and
// the reference's preload and periodic update of its two libraries.

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"time"

	"reachyd/actors/daemon"
	"reachyd/actors/datasets"
	"reachyd/actors/kit"
	"reachyd/actors/moves/motion"
	"reachyd/actors/system"
	"reachyd/hfauth"
	"reachyd/messages"
)

func (o *Options) validateDatasets() error {
	if o.DatasetMaxMB < 1 {
		return fmt.Errorf("--dataset-max-mb must be positive, got %d", o.DatasetMaxMB)
	}
	if math.IsNaN(o.DatasetUpdateHours) || math.IsInf(o.DatasetUpdateHours, 0) || o.DatasetUpdateHours < 0 {
		return fmt.Errorf("--dataset-update-interval must be a number of hours, 0 or more, got %v", o.DatasetUpdateHours)
	}
	return nil
}

// hubOffline reports whether HF_HUB_OFFLINE asks for no network, as
// huggingface_hub reads it.
func hubOffline() bool {
	v := strings.ToUpper(strings.TrimSpace(os.Getenv("HF_HUB_OFFLINE")))
	return v == "1" || v == "ON" || v == "YES" || v == "TRUE"
}

// datasetDirs are the folders searched for datasets: --datasets-dir, then
// the hub cache.
func datasetDirs(o *Options) []string {
	dirs := append([]string(nil), o.DatasetsDir...)
	if o.HFHubCache != "" {
		dirs = append(dirs, o.HFHubCache)
	}
	return dirs
}

// datasetsConfig configures the downloads into the hub cache.
func datasetsConfig(o *Options) *system.DatasetsConfig {
	switch {
	case !o.DatasetDownloads:
		return &system.DatasetsConfig{Off: "--no-dataset-downloads"}
	case hubOffline():
		return &system.DatasetsConfig{Off: "HF_HUB_OFFLINE is set"}
	case o.HFHubCache == "":
		return &system.DatasetsConfig{Off: "no hub cache folder"}
	}
	tokenPath := daemon.HFTokenPath()
	return &system.DatasetsConfig{Hub: &datasets.Hub{
		Endpoint: o.HFEndpoint,
		Cache:    o.HFHubCache,
		Token:    func() string { return hfToken(tokenPath) },
		Limits:   datasets.Limits{MaxTotalBytes: int64(o.DatasetMaxMB) << 20},
	}}
}

// hfToken is the token huggingface_hub would send: $HF_TOKEN, else the
// token file.
func hfToken(path string) string { return (&hfauth.Store{Path: path}).Token() }

// updateDatasets is the reference's dataset preload (--preload-datasets, at
// startup) and updater (every --dataset-update-interval hours): both
// libraries are refreshed from the Hub in the background, one after the
// other. It returns when ctx ends.
func updateDatasets(ctx context.Context, sys *system.System, o *Options, log *slog.Logger) {
	if !o.DatasetDownloads || hubOffline() {
		return
	}
	refresh := func() {
		for _, ds := range []string{motion.EmotionsDataset, motion.DancesDataset} {
			actx, cancel := context.WithTimeout(ctx, messages.DatasetWait)
			r, err := kit.Ask[messages.DatasetReady](actx, sys.Kit, sys.Datasets, &messages.EnsureDataset{Dataset: ds, Refresh: true})
			cancel()
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				log.Warn("recorded-move dataset not updated", "dataset", ds, "err", err)
			default:
				log.Info("recorded-move dataset up to date", "dataset", ds, "path", r.Path)
			}
		}
	}
	if o.PreloadDatasets {
		refresh()
	}
	if o.DatasetUpdateHours <= 0 {
		return
	}
	every := time.Duration(o.DatasetUpdateHours * float64(time.Hour))
	if every < time.Minute {
		every = time.Minute
	}
	log.Info("dataset updater started", "interval", every.String())
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			refresh()
		}
	}
}
