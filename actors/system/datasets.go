package system

import (
	"reachyd/actors/datasets"
	"reachyd/actors/kit"
)

// DatasetsConfig configures the downloads of recorded-move datasets.
type DatasetsConfig struct {
	// Hub downloads a dataset that is not on disk; nil: none (Off says
	// why, for the error callers see).
	Hub *datasets.Hub
	Off string
}

// datasetsChild is the datasets actor: always there (it answers the
// dataset listings, downloads or not).
func (s *System) datasetsChild(cfg Config) kit.Child {
	opt := datasets.Options{Library: cfg.Library, Jobs: s.Jobs, Log: cfg.Log, Cell: datasets.NewCell()}
	if dc := cfg.Datasets; dc != nil {
		opt.Hub, opt.Off = dc.Hub, dc.Off
	}
	return kit.Child{Name: "datasets", Props: datasets.Props(opt)}
}
