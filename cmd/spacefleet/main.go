// Command spacefleet is the one binary of the Spacefleet image: migrate, web,
// worker and dbcheck, secrets (the chart's create-if-missing step for what it
// generates), plus loadgen (a bounded load generator for tests). See
// docs/app-contract.md for its environment.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spacefleet/spacefleet/internal/config"
	"github.com/spacefleet/spacefleet/internal/db"
	"github.com/spacefleet/spacefleet/internal/loadgen"
	"github.com/spacefleet/spacefleet/internal/migrations"
	"github.com/spacefleet/spacefleet/internal/secrets"
	"github.com/spacefleet/spacefleet/internal/web"
	"github.com/spacefleet/spacefleet/internal/worker"
)

const usage = "usage: spacefleet migrate|web|worker|dbcheck|secrets|loadgen [-h]"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if len(os.Args) >= 2 && os.Args[1] == "loadgen" {
		os.Exit(loadgen.Main(ctx, os.Args[2:], os.Stdout, os.Stderr))
	}
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	cmd := os.Args[1]
	log, levelErr := newLogger(cmd)
	if levelErr != nil {
		fail(log, cmd, levelErr)
	}

	var err error
	switch cmd {
	case "migrate":
		err = migrations.RunCommand(ctx, os.Getenv("DATABASE_URL"), log)
	case "dbcheck":
		err = db.RunCheck(ctx, os.Getenv("DATABASE_URL"), os.Stdout, log)
	case "web":
		var cfg web.Config
		if cfg, err = web.ConfigFromEnv(os.Getenv); err == nil {
			err = web.Run(ctx, cfg, log)
		}
	case "secrets":
		if err := runSecrets(ctx, log); err != nil {
			// not a database error: say it as it is (it names the Secret, the refused call and the values fix)
			log.Error("secrets failed", "error", err.Error())
			os.Exit(1)
		}
		return
	case "worker":
		var cfg worker.Config
		if cfg, err = worker.ConfigFromEnv(os.Getenv); err == nil {
			err = worker.Run(ctx, cfg, log)
		}
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fail(log, cmd, err)
	}
}

// fail logs why cmd stopped and exits 1. A configuration error names the env var and the values key that sets it;
// only what is left goes through the database diagnosis.
func fail(log *slog.Logger, cmd string, err error) {
	if ce, ok := config.As(err); ok {
		log.Error(cmd+" failed: configuration error", "error", ce.Error(), "cause", "configuration",
			"env", ce.Env, "values_key", ce.Key, "fix", ce.Fix())
		os.Exit(1)
	}
	db.LogError(log, cmd+" failed", db.Diagnose(err, os.Getenv("DATABASE_URL")))
	os.Exit(1)
}

// newLogger writes JSON lines to stdout at LOG_LEVEL, tagged with the component. An unknown LOG_LEVEL is a
// configuration error (returned with an info-level logger to report it).
func newLogger(cmd string) (*slog.Logger, error) {
	level, err := config.LogLevel(os.Getenv)
	component := os.Getenv("SPACEFLEET_COMPONENT")
	if component == "" {
		component = cmd
	}
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level})).With("component", component), err
}

// runSecrets: `spacefleet secrets`, the chart's create-if-missing Job (internal/secrets).
func runSecrets(ctx context.Context, log *slog.Logger) error {
	specs, err := secrets.ParseSpecs(os.Getenv("SPACEFLEET_SECRETS"))
	if err != nil {
		return err
	}
	api, err := secrets.InCluster()
	if err != nil {
		return err
	}
	_, err = secrets.Ensure(ctx, api, specs, os.Getenv, log)
	return err
}
