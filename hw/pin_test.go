package hw

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDevicePIN(t *testing.T) {
	root := t.TempDir()
	write := func(dev, name, v string) {
		if err := os.MkdirAll(filepath.Join(root, dev), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, dev, name), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if pin := devicePIN(root); pin != "46879" {
		t.Errorf("no board: %q, want the reference's default 46879", pin)
	}
	write("1-2", "idVendor", "38fb")
	write("1-2", "idProduct", "1001")
	write("1-2", "serial", "RM")
	if pin := devicePIN(root); pin != "46879" {
		t.Errorf("a serial shorter than 5: %q", pin)
	}
	write("1-2", "serial", "RMW2504A1B2C")
	if pin := devicePIN(root); pin != "A1B2C" {
		t.Errorf("pin %q, want the serial's last five characters A1B2C", pin)
	}
}
