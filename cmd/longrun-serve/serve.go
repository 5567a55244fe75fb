package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/internal/cli"
	"github.com/longrun/longrun/kinds/classifier"
	"github.com/longrun/longrun/kinds/juliaset"
	"github.com/longrun/longrun/local"
	"github.com/longrun/longrun/local/files"
	"github.com/longrun/longrun/tracing/setup"
	"github.com/longrun/longrun/webhook"
)

// checkServe refuses flags out of their bounds, naming the flag.
func checkServe(cfg *local.Config, julia *juliaset.Kind) error {
	for name, v := range map[string]int{"jobs": cfg.Jobs, "max-receives": cfg.MaxReceives, "max-active": cfg.Quotas.MaxActive,
		"max-stored": cfg.Quotas.MaxStored, "owner-writes": cfg.Quotas.OwnerWrites, "address-writes": cfg.Quotas.AddressWrites,
		"address-sessions": cfg.Quotas.AddressSessions, "mail-per-address": cfg.Quotas.MailPerAddress,
		"mail-per-owner": cfg.Quotas.MailPerOwner, "tile-above": julia.TileAbove, "tile-size": julia.TileSize,
		"max-conns-per-client": cfg.MaxConnsPerClient} {
		if v < 1 {
			return cli.Usagef("serve: flag --%s must be at least 1", name)
		}
	}
	if cfg.MaxConns < 0 {
		return cli.Usagef("serve: flag --max-conns must be 0 (the default) or more")
	}
	if cfg.Quotas.MaxBytes < 1<<20 {
		return cli.Usagef("serve: flag --owner-bytes must be at least 1048576 (1 MiB)")
	}
	if cfg.Quotas.TotalBytes < cfg.Quotas.MaxBytes {
		return cli.Usagef("serve: flag --total-bytes must be at least --owner-bytes (%d)", cfg.Quotas.MaxBytes)
	}
	if cfg.CacheBytes < 1<<20 {
		return cli.Usagef("serve: flag --cache-bytes must be at least 1048576 (1 MiB)")
	}
	if b := cfg.Quotas.ClientV4Bits; b < 8 || b > 32 {
		return cli.Usagef("serve: flag --client-v4-bits must be between 8 and 32")
	}
	if b := cfg.Quotas.ClientV6Bits; b < 16 || b > 128 {
		return cli.Usagef("serve: flag --client-v6-bits must be between 16 and 128")
	}
	if err := julia.Bounds.Check(); err != nil {
		return cli.Usagef("serve: flags --max-size, --max-depth, --max-work: %v", err)
	}
	if cfg.Goroutines < 0 {
		return cli.Usagef("serve: flag --render-goroutines must be 0 (default) or more")
	}
	return nil
}

// runServe runs the local system until ctx ends.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg local.Config
	var logLevel string
	julia := &juliaset.Kind{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	fs.StringVar(&cfg.DataDir, "data", "./data", "folder for the database, images, mail and the session key")
	fs.IntVar(&cfg.Jobs, "jobs", 1, "jobs rendered at once")
	fs.IntVar(&cfg.Goroutines, "render-goroutines", 0, "goroutines all renders share (default: cores − 1, at least 1)")
	fs.IntVar(&julia.Bounds.MaxSize, "max-size", juliaset.MaxSize, "largest width or height of a Julia set")
	fs.IntVar(&julia.Bounds.MaxDepth, "max-depth", juliaset.MaxDepth, "greatest depth of a Julia set")
	fs.Int64Var(&julia.Bounds.MaxWork, "max-work", juliaset.MaxWork, "most work (width × height × depth, iterations at most) of a Julia set")
	fs.IntVar(&julia.TileAbove, "tile-above", 4<<20, "pixels above which a Julia set is rendered in tiles, each a job of its own")
	fs.IntVar(&julia.TileSize, "tile-size", 512, "a Julia set tile's side, in pixels")
	fs.Int64Var(&cfg.CacheBytes, "cache-bytes", files.DefaultCacheBytes, "bytes of kept counts and tiles (a cache: the least recently used go first)")
	fs.IntVar(&cfg.Quotas.ClientV4Bits, "client-v4-bits", 24, "prefix length of the IPv4 network a client is known by (32: every address)")
	fs.IntVar(&cfg.Quotas.ClientV6Bits, "client-v6-bits", 64, "prefix length of the IPv6 network a client is known by (128: every address)")
	fs.IntVar(&cfg.MaxConnsPerClient, "max-conns-per-client", 128, "open connections of one client network (not behind --trust-forwarded-for)")
	fs.IntVar(&cfg.MaxConns, "max-conns", 0, "open connections in all (default: the open-file limit less 256, at most 16384)")
	fs.IntVar(&cfg.MaxReceives, "max-receives", 5, "deliveries of a failing job before it is dead-lettered")
	fs.StringVar(&logLevel, "log", "info", "log level: debug, info, warn, error")
	fs.IntVar(&cfg.Quotas.MaxActive, "max-active", 20, "an owner's configurations queued or rendering at once")
	fs.IntVar(&cfg.Quotas.MaxStored, "max-stored", 1000, "configurations an owner may keep")
	fs.Int64Var(&cfg.Quotas.MaxBytes, "owner-bytes", 2<<30, "bytes of images an owner's configurations may keep before new renders are refused")
	fs.Int64Var(&cfg.Quotas.TotalBytes, "total-bytes", 16<<30, "bytes of images all configurations together may keep before new renders are refused")
	fs.IntVar(&cfg.Quotas.OwnerWrites, "owner-writes", 60, "creates, edits and re-renders an owner may make a minute")
	fs.IntVar(&cfg.Quotas.AddressWrites, "address-writes", 120, "creates, edits and re-renders a client address may make a minute")
	fs.IntVar(&cfg.Quotas.AddressSessions, "address-sessions", 60, "new sessions (owners) a client address may start an hour")
	fs.IntVar(&cfg.Quotas.MailPerAddress, "mail-per-address", 20, "e-mails an address may receive a day")
	fs.IntVar(&cfg.Quotas.MailPerOwner, "mail-per-owner", 100, "e-mails an owner's configurations may send a day")
	notifyFlags(fs, &cfg)
	fs.BoolVar(&cfg.TrustForwardedFor, "trust-forwarded-for", false, "take the client's address from X-Forwarded-For (behind a proxy)")
	if err := cli.Parse(fs, args, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return cli.Usagef("serve: flag --log: want debug, info, warn or error")
	}
	if err := checkServe(&cfg, julia); err != nil {
		return err
	}
	if k := getenv("LONGRUN_SESSION_KEY"); k != "" {
		if len(k) < 32 {
			return cli.Usagef("serve: LONGRUN_SESSION_KEY must be at least 32 characters")
		}
		cfg.SessionKey = []byte(k)
	}
	cfg.OpsToken = getenv("LONGRUN_OPS_TOKEN")
	if cfg.OpsToken != "" && len(cfg.OpsToken) < 16 {
		return cli.Usagef("serve: LONGRUN_OPS_TOKEN must be at least 16 characters")
	}
	if err := webhookKey(&cfg, getenv); err != nil {
		return err
	}
	// The kinds of computation this server runs: a new kind is one more
	// entry (see the README's "Adding a kind").
	cfg.Kinds = longrun.Kinds{
		juliaset.Name:   julia,
		classifier.Name: classifier.New(),
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	// The recent runs the pages show are kept from the traces.
	cfg.Timeline = local.NewTimeline(1000)
	traces, err := setup.Tracing(ctx, getenv, "longrun", setup.WithProcessor(cfg.Timeline))
	if err != nil {
		return cli.Usagef("serve: tracing: %v", err)
	}
	defer traces.Shutdown(context.WithoutCancel(ctx)) // flushes the spans held
	sys, err := local.Start(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "longrun is running at %s (data in %s; Ctrl-C stops it)\n", sys.URL, cfg.DataDir)
	if err := sys.Run(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "longrun stopped cleanly: jobs in flight go on at the next start")
	return nil
}

// notifyFlags are the flags of the operator's notification channels: the
// webhooks' endpoints, the push services devices may subscribe at.
func notifyFlags(fs *flag.FlagSet, cfg *local.Config) {
	fs.Func("webhook-url", "an endpoint to POST every finished, failed or cancelled version to, signed with LONGRUN_WEBHOOK_SECRET (repeatable)", func(v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("want an http or https URL")
		}
		cfg.Webhooks.Endpoints = append(cfg.Webhooks.Endpoints, v)
		return nil
	})
	fs.Func("push-service", "a push service host devices may subscribe at, in place of the browsers' own (repeatable; *.example.com takes its subdomains)", func(v string) error {
		if v == "" || strings.ContainsAny(v, "/:@ ") {
			return errors.New("want a host name, such as push.example.com")
		}
		cfg.PushHosts = append(cfg.PushHosts, v)
		return nil
	})
}

// webhookKey reads the webhooks' signing secret from
// LONGRUN_WEBHOOK_SECRET, which endpoints need.
func webhookKey(cfg *local.Config, getenv func(string) string) error {
	if len(cfg.Webhooks.Endpoints) == 0 {
		return nil
	}
	secret := getenv("LONGRUN_WEBHOOK_SECRET")
	if secret == "" {
		return cli.Usagef("serve: flag --webhook-url needs LONGRUN_WEBHOOK_SECRET, the secret its deliveries are signed with (whsec_ and base64 of 24 to 64 random bytes: try  echo whsec_$(head -c 32 /dev/urandom | base64))")
	}
	key, err := webhook.ParseSecret(secret)
	if err != nil {
		return cli.Usagef("serve: LONGRUN_WEBHOOK_SECRET: %v", err)
	}
	cfg.Webhooks.Key = key
	return nil
}
