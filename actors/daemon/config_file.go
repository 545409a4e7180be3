package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"reachyd/hfauth"
	"reachyd/messages"
)

// configFile is the daemon's persisted settings (the reference's
// daemon_config.json). Unknown keys are preserved on write.
func (a *Actor) configPath() string {
	if a.opt.Config.DataDir == "" {
		return ""
	}
	return filepath.Join(a.opt.Config.DataDir, "daemon_config.json")
}

func (a *Actor) readConfig() (map[string]json.RawMessage, error) {
	p := a.configPath()
	cfg := map[string]json.RawMessage{}
	if p == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		// As the reference: a corrupt file is treated as empty (and
		// replaced on the next write).
		a.log.Warn("daemon_config.json is corrupt; ignoring it", "err", err)
		return map[string]json.RawMessage{}, nil
	}
	return cfg, nil
}

// putSetting writes one key of the settings file (nil deletes it),
// preserving the others.
func (a *Actor) putSetting(key string, raw []byte) error {
	p := a.configPath()
	if p == "" {
		return fmt.Errorf("no data folder configured")
	}
	cfg, err := a.readConfig()
	if err != nil {
		return err
	}
	if raw == nil {
		delete(cfg, key)
	} else {
		if !json.Valid(raw) {
			return fmt.Errorf("setting %s: invalid JSON", key)
		}
		cfg[key] = raw
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(p, b, 0o644)
}

func (a *Actor) getSetting(key string) []byte {
	cfg, err := a.readConfig()
	if err != nil {
		return nil
	}
	return cfg[key]
}

func (a *Actor) firstWakeUp() bool {
	cfg, err := a.readConfig()
	if err != nil {
		return false
	}
	var done bool
	if raw, ok := cfg["first_wake_up_completed"]; ok && json.Unmarshal(raw, &done) == nil {
		return done
	}
	return false
}

func (a *Actor) setFirstWakeUp(done bool) error {
	raw, _ := json.Marshal(done)
	return a.putSetting("first_wake_up_completed", raw)
}

// HFTokenPath is where huggingface_hub keeps its token (package hfauth).
func HFTokenPath() string { return hfauth.TokenPath() }

// deleteHFToken signs out as huggingface_hub's logout() does: the token
// file and stored_tokens are deleted (hfauth.Store.Logout); HF_TOKEN, which
// the daemon cannot unset, is reported.
func deleteHFToken() error {
	if err := (&hfauth.Store{}).Logout(); err != nil {
		return &messages.Error{Kind: messages.KindInternal, Detail: "cannot delete the Hugging Face token: " + err.Error()}
	}
	return nil
}
