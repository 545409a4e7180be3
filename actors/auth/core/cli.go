package authcore

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"reachyd/messages"
)

const keysUsage = `Usage: reachyd keys <command> [flags]

Manage the API keys that clients exchange for tokens (GET /api/v1/auth/
with the X-API-Key header). Keys live in %s; a running daemon picks
up changes within seconds.

Commands:
  create --name NAME [--level ENCHANTER|ADMIN|USER]
        Create a key and print it. It is shown once: only its hash is kept.
        The level defaults to USER (least privileged).
  list  List keys: id, name, level, created, last used, revoked.
  revoke ID
        Revoke a key by id (or a unique prefix of at least 4 digits).
        A running daemon refuses its tokens from its next request on and
        closes its topic WebSockets within 2 seconds.
`

// KeysCommand runs "reachyd keys ..." (args are what follows "keys")
// against the key store in StoreDir(dataDir). Output goes to stdout,
// diagnostics and usage to stderr. A non-nil error means a non-zero exit;
// usage mistakes wrap ErrUsage (exit status 2 by convention). The clock
// is the wall clock: this is the one place in the package that reads it.
func KeysCommand(args []string, dataDir string, stdout, stderr io.Writer) error {
	return keysCommand(args, dataDir, stdout, stderr, time.Now, nil)
}

func keysCommand(args []string, dataDir string, stdout, stderr io.Writer, clock func() time.Time, random io.Reader) error {
	dir := StoreDir(dataDir)
	usage := func(w io.Writer) { fmt.Fprintf(w, keysUsage, dir) }
	if len(args) == 0 {
		usage(stderr)
		return fmt.Errorf("%w: missing command", ErrUsage)
	}
	open := func() (*KeyStore, error) {
		var opts []StoreOption
		if random != nil {
			opts = append(opts, WithRand(random))
		}
		return OpenKeyStore(dir, opts...)
	}
	newFlags := func(name string) *flag.FlagSet {
		fs := flag.NewFlagSet("reachyd keys "+name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		fs.Usage = func() { usage(stderr) }
		return fs
	}
	// parse returns (done, err): done when -h was asked for.
	parse := func(fs *flag.FlagSet, args []string, wantArgs int) (bool, error) {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return true, nil
			}
			return true, fmt.Errorf("%w: %w", ErrUsage, err)
		}
		if fs.NArg() != wantArgs {
			usage(stderr)
			return true, fmt.Errorf("%w: %s takes %d argument(s), got %d", ErrUsage, fs.Name(), wantArgs, fs.NArg())
		}
		return false, nil
	}

	switch cmd := args[0]; cmd {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return nil

	case "create":
		fs := newFlags("create")
		name := fs.String("name", "", "a label for the key (1-64 printable characters)")
		levelStr := fs.String("level", "USER", "access level: ENCHANTER, ADMIN or USER")
		if done, err := parse(fs, args[1:], 0); done {
			return err
		}
		if *name == "" {
			usage(stderr)
			return fmt.Errorf("%w: --name is required", ErrUsage)
		}
		if err := ValidateName(*name); err != nil {
			return err
		}
		level, err := messages.ParseAccessLevel(*levelStr)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadLevel, err)
		}
		ks, err := open()
		if err != nil {
			return err
		}
		plaintext, k, err := ks.Create(*name, level, clock())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Created key %s %q with level %s:\n\n", k.ID, k.Name, k.Level)
		fmt.Fprintf(stdout, "%s\n\n", plaintext)
		fmt.Fprintf(stdout, "This key cannot be shown again: only its SHA-256 hash is stored. Keep it somewhere safe.\n")
		return nil

	case "list":
		fs := newFlags("list")
		if done, err := parse(fs, args[1:], 0); done {
			return err
		}
		ks, err := open()
		if err != nil {
			return err
		}
		keys := ks.List()
		if len(keys) == 0 {
			fmt.Fprintf(stdout, "No API keys. Create one with: reachyd keys create --name NAME --level LEVEL\n")
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tLEVEL\tCREATED\tLAST USED\tREVOKED")
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Level,
				k.CreatedAt.UTC().Format(time.RFC3339), fmtTime(k.LastUsed, "never"), fmtTime(k.RevokedAt, "-"))
		}
		return tw.Flush()

	case "revoke":
		fs := newFlags("revoke")
		if done, err := parse(fs, args[1:], 1); done {
			return err
		}
		ks, err := open()
		if err != nil {
			return err
		}
		k, err := ks.Resolve(fs.Arg(0))
		if err != nil {
			return err
		}
		switch err := ks.Revoke(k.ID, clock()); {
		case errors.Is(err, ErrAlreadyRevoked):
			// The wanted state holds: report, succeed.
			fmt.Fprintf(stdout, "Key %s %q was already revoked.\n", k.ID, k.Name)
			return nil
		case err != nil:
			return err
		}
		fmt.Fprintf(stdout, "Revoked key %s %q. Its sessions end at their next request.\n", k.ID, k.Name)
		return nil

	default:
		usage(stderr)
		// cmd is not echoed: someone may have pasted a key here.
		return fmt.Errorf("%w: unknown command (want create, list or revoke)", ErrUsage)
	}
}

func fmtTime(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.UTC().Format(time.RFC3339)
}
