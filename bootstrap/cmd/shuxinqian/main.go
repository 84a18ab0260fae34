// Command shuxinqian is the 数信签 server: serve | consume | migrate.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
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

configuration comes from the environment: see README.md "Configuration".`

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "shuxinqian:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cmd string) error {
	switch cmd {
	case "serve", "consume", "migrate", "seed":
	case "help", "-h", "--help":
		fmt.Println(usage)
		return nil
	default:
		return errors.New("unknown command " + cmd + "\n" + usage)
	}
	cfg, err := bootstrap.LoadConfig(os.Getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
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
