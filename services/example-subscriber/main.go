// Command example-subscriber is what an outside system — a CMDB, a
// monitoring system, an audit trail — writes to follow the changes jms-sync
// makes to JumpServer's assets. It depends on nats.go only and decodes the
// message with its own small struct, as a program in any language would.
//
// It reads the public ASSETS stream of jms-sync (subjects
// jmssync.asset.<op>.<provider>.<account-id>.<region>, schema
// jmssync.asset.applied/v1, see schemas/README.md) through a durable pull
// consumer of its own, so a restart continues where it stopped, and prints
// one line per change:
//
//	created  aliyun/prod/cn-hangzhou  i-bp1a2b3c  name=web-01 address=10.0.0.5 asset=3f0c…
//	updated  aliyun/prod/cn-hangzhou  i-bp1a2b3c  name=web-01 address=10.0.0.6 (address 10.0.0.5 -> 10.0.0.6) asset=3f0c…
//
// Configuration:
//
//	NATS_URL              server URL (default nats://127.0.0.1:4222); for the all-in-one
//	                      binary, the embedded server's URL is in <data dir>/nats.url
//	NATS_USER             user name (the read-only "subscriber" user of deploy/nats/nats.conf)
//	NATS_PASSWORD         its password, or NATS_PASSWORD_FILE=<path>
//	-durable name         the consumer's name (default example-subscriber); one per system
//	-filter subject       which facts (default jmssync.asset.>; e.g. jmssync.asset.*.aliyun.>)
//	-since duration       on the consumer's first start, begin this far back (default: every
//	                      fact the stream still keeps)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream is the public stream of applied facts.
const Stream = "ASSETS"

// SchemaV1 is the schema field of the facts this program understands.
const SchemaV1 = "jmssync.asset.applied/v1"

// Config is how to reach NATS and which facts to follow.
type Config struct {
	URL      string
	User     string
	Password string
	Durable  string
	Filter   string
	// Since, when positive, makes a new consumer start at now - Since
	// instead of the oldest fact kept. It has no effect on an existing
	// consumer, which continues where it stopped (the flag may stay set).
	Since time.Duration
}

// Fact is the part of an applied fact this program uses. The message has
// more fields (schemas/asset-applied.v1.json); unknown fields are ignored,
// so additions to v1 never break it.
type Fact struct {
	Schema   string `json:"schema"`
	Op       string `json:"op"`
	AssetID  string `json:"asset_id"`
	Identity struct {
		Provider   string `json:"provider"`
		InstanceID string `json:"instance_id"`
	} `json:"identity"`
	Provider         string      `json:"provider"`
	AccountID        string      `json:"account_id"`
	Region           string      `json:"region"`
	Before           *AssetState `json:"before"` // null for created
	After            *AssetState `json:"after"`  // null for deleted
	AppliedAt        time.Time   `json:"applied_at"`
	RunID            string      `json:"run_id"`
	IntentGeneration uint64      `json:"intent_generation"`
}

// AssetState is the asset as JumpServer returned it, before or after.
type AssetState struct {
	Name     string   `json:"name"`
	Address  string   `json:"address"`
	Platform string   `json:"platform"`
	Nodes    []string `json:"nodes"`
	Zone     string   `json:"zone"`
	IsActive bool     `json:"is_active"`
}

// errOtherSchema: a message of another schema or major version (a v2 fact
// published beside v1 during a migration); it is skipped, not an error.
var errOtherSchema = errors.New("not a jmssync.asset.applied/v1 fact")

// Decode reads one fact.
func Decode(data []byte) (*Fact, error) {
	var f Fact
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	if f.Schema != SchemaV1 {
		return nil, fmt.Errorf("%w: schema %q", errOtherSchema, f.Schema)
	}
	if f.AssetID == "" || f.Op == "" || f.IntentGeneration == 0 {
		return nil, errors.New("asset_id, op and intent_generation are required")
	}
	return &f, nil
}

// Line is the one-line description of a fact.
func (f *Fact) Line() string {
	s := f.After
	if s == nil {
		s = f.Before // deleted: what it was
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-11s %s/%s/%s  %s", f.Op, f.Provider, f.AccountID, f.Region, f.Identity.InstanceID)
	if s != nil {
		fmt.Fprintf(&b, "  name=%s address=%s", s.Name, s.Address)
	}
	if changes := changed(f.Before, f.After); len(changes) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(changes, ", "))
	}
	fmt.Fprintf(&b, " asset=%s", f.AssetID)
	return b.String()
}

// changed lists the fields that differ between before and after.
func changed(before, after *AssetState) []string {
	if before == nil || after == nil {
		return nil
	}
	var out []string
	diff := func(field, a, b string) {
		if a != b {
			out = append(out, field+" "+a+" -> "+b)
		}
	}
	diff("name", before.Name, after.Name)
	diff("address", before.Address, after.Address)
	diff("platform", before.Platform, after.Platform)
	diff("zone", before.Zone, after.Zone)
	diff("nodes", strings.Join(before.Nodes, ","), strings.Join(after.Nodes, ","))
	diff("active", strconv.FormatBool(before.IsActive), strconv.FormatBool(after.IsActive))
	return out
}

// printer handles the delivered messages. Delivery is at least once: the
// same fact can come twice (a redelivered intent republishes it). Facts of
// one asset arrive in intent_generation order, so remembering the last
// generation per asset is enough to be idempotent; a real system keeps it
// in its own database, next to the data it derives from the facts.
type printer struct {
	out, errOut io.Writer
	mu          sync.Mutex
	last        map[string]uint64 // asset_id → last intent_generation printed
}

func (p *printer) handle(msg jetstream.Msg) {
	f, err := Decode(msg.Data())
	switch {
	case errors.Is(err, errOtherSchema):
		fmt.Fprintf(p.errOut, "skipped %s: %v\n", msg.Subject(), err)
		_ = msg.Ack()
		return
	case err != nil:
		// Not decodable: it will never be, so do not ask for it again.
		fmt.Fprintf(p.errOut, "bad message on %s: %v\n", msg.Subject(), err)
		_ = msg.Term()
		return
	}
	p.mu.Lock()
	if f.IntentGeneration > p.last[f.AssetID] {
		p.last[f.AssetID] = f.IntentGeneration
		fmt.Fprintln(p.out, f.Line())
	}
	p.mu.Unlock()
	// Ack after the work is done: a crash before it means a redelivery,
	// which the generation check above absorbs.
	if err := msg.Ack(); err != nil {
		fmt.Fprintf(p.errOut, "ack %s: %v\n", msg.Subject(), err)
	}
}

// Run follows the facts until ctx ends.
func Run(ctx context.Context, cfg Config, out, errOut io.Writer) error {
	opts := []nats.Option{nats.Name(cfg.Durable), nats.MaxReconnects(-1)}
	if cfg.User != "" || cfg.Password != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	cc := jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		FilterSubject: cfg.Filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxAckPending: 256,
	}
	if cfg.Since > 0 {
		start := time.Now().Add(-cfg.Since)
		cc.DeliverPolicy, cc.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	// Created on the first start, found again afterwards; its start point
	// is its own from then on (the server refuses to change a durable's
	// deliver policy or start time), the filter follows the flag. The
	// read-only subscriber user may create and use consumers on ASSETS only.
	if old, err := js.Consumer(ctx, Stream, cfg.Durable); err == nil {
		cc.DeliverPolicy, cc.OptStartTime = old.CachedInfo().Config.DeliverPolicy, old.CachedInfo().Config.OptStartTime
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("consumer %s on %s: %w", cfg.Durable, Stream, err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, Stream, cc)
	if err != nil {
		return fmt.Errorf("consumer %s on %s: %w", cfg.Durable, Stream, err)
	}
	p := &printer{out: out, errOut: errOut, last: map[string]uint64{}}
	cctx, err := cons.Consume(p.handle)
	if err != nil {
		return err
	}
	<-ctx.Done()
	cctx.Drain()
	select {
	case <-cctx.Closed():
	case <-time.After(5 * time.Second):
	}
	return nil
}

func main() { os.Exit(run()) }

func run() int {
	cfg := Config{
		URL:      envOr("NATS_URL", nats.DefaultURL),
		User:     os.Getenv("NATS_USER"),
		Password: os.Getenv("NATS_PASSWORD"),
	}
	flag.StringVar(&cfg.Durable, "durable", "example-subscriber", "name of the durable consumer on ASSETS")
	flag.StringVar(&cfg.Filter, "filter", "jmssync.asset.>", "subjects to follow")
	flag.DurationVar(&cfg.Since, "since", 0, "first start only: begin this far back (0 = every fact kept)")
	flag.Parse()
	if path := os.Getenv("NATS_PASSWORD_FILE"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "example-subscriber:", err)
			return 2
		}
		cfg.Password = strings.TrimRight(string(b), "\r\n")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "example-subscriber:", err)
		return 1
	}
	return 0
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
