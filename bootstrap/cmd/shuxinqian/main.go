// Command shuxinqian is the 数信签 server: serve | consume | migrate.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/bootstrap"
)

const usage = `usage: shuxinqian <command>

commands:
  serve     run the HTTP API and the event consumers (sandbox mode migrates the database itself)
  consume   run only the event consumers and the outbox forwarder
  migrate   apply the database migrations
  seed      load the demo data (channel q86804 东莞交易专家评标项目 and its catalog)
  dead-letters list [AFTER_ID]   list the messages that exhausted their retries (JSON lines)
  dead-letters replay ID         deliver a dead letter again to its handler (durably, through the outbox)
  operator create --username NAME --role admin|finance|support [--password-stdin]
            create a platform operator account: prints its TOTP secret and otpauth:// URL once;
            the password is asked twice on the terminal, or read from the first line of stdin
  operator unlock USERNAME
            clear an operator's failed-login lock (the way back for a locked-out sole admin)
  operator reset-totp USERNAME
            give an operator a new TOTP secret, printed once; revokes its sessions
  operator reset-password USERNAME
            give an operator a generated password, printed once; revokes its sessions
  operator totp [--secret-stdin | SECRET]
            print the current TOTP code of a base32 secret (what an authenticator app shows)
  sweep     drive on work stuck in an intermediate state once (serve and consume do it every SWEEP_INTERVAL)

configuration comes from the environment: see README.md "Configuration".`

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "dead-letters" && os.Args[1] != "operator" && len(os.Args) != 2) {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "shuxinqian:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cmd string, args []string) error {
	switch cmd {
	case "serve", "consume", "migrate", "seed", "dead-letters", "sweep", "operator":
	case "help", "-h", "--help":
		fmt.Println(usage)
		return nil
	default:
		return errors.New("unknown command " + cmd + "\n" + usage)
	}
	if cmd == "operator" && len(args) > 0 && args[0] == "totp" {
		return printTOTP(args[1:], os.Stdin, os.Stdout)
	}
	cfg, err := bootstrap.LoadConfig(os.Getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	var op operatorCommand
	if cmd == "operator" {
		// Parse and read the password before wiring, so a usage error touches nothing.
		if op, err = parseOperator(args, os.Stdin); err != nil {
			return err
		}
	}
	rt, cleanup, err := bootstrap.NewRuntime(cfg, system.Clock{})
	if err != nil {
		return err
	}
	defer cleanup()
	switch cmd {
	case "serve":
		return rt.Serve(ctx)
	case "consume":
		return rt.Consume(ctx)
	case "dead-letters":
		return deadLetters(ctx, rt, args)
	case "operator":
		if err := rt.PrepareDatabase(ctx); err != nil {
			return err
		}
		return op.run(ctx, rt, os.Stdout)
	case "sweep":
		rep, err := rt.Sweep(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("re-published: invoices %d, grants %d, remittances %d, certificates %d\n",
			rep.Invoices, rep.Grants, rep.Remittances, rep.Certificates)
		return nil
	case "seed":
		added, err := rt.App.Seed(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("seeded channels: %v\n", added)
		return nil
	default:
		applied, err := rt.DB.Migrate(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("applied %d migrations\n", len(applied))
		return nil
	}
}

// deadLetters lists or replays the messages parked in the poison table.
func deadLetters(ctx context.Context, rt *bootstrap.Runtime, args []string) error {
	if len(args) == 0 {
		return errors.New("dead-letters list [AFTER_ID] | dead-letters replay ID")
	}
	switch args[0] {
	case "list":
		var after int64
		if len(args) > 1 {
			n, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil {
				return fmt.Errorf("AFTER_ID: %w", err)
			}
			after = n
		}
		enc := json.NewEncoder(os.Stdout)
		for {
			ls, err := rt.Store.DeadLetters(ctx, after, 500)
			if err != nil {
				return err
			}
			for _, l := range ls {
				if err := enc.Encode(l); err != nil {
					return err
				}
				after = l.ID
			}
			if len(ls) < 500 {
				return nil
			}
		}
	case "replay":
		if len(args) != 2 {
			return errors.New("dead-letters replay ID")
		}
		id, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil {
			return fmt.Errorf("ID: %w", err)
		}
		l, err := rt.Store.ReplayDeadLetter(ctx, id)
		if err != nil {
			return err
		}
		fmt.Printf("replayed dead letter %d (%s, message %s) to %s\n", l.ID, l.Event, l.MessageID, l.Handler)
		return nil
	default:
		return errors.New("dead-letters list [AFTER_ID] | dead-letters replay ID")
	}
}
