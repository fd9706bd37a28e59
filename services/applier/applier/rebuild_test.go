package applier

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/jumpserver"
	"github.com/jmssync/jmssync/libs/sim/jmssim"
)

// TestRebuild: a row that vanished is confirmed with a GET before it is
// tombstoned; an asset changed by hand refreshes the mirror; the ready key
// says when and how many.
func TestRebuild(t *testing.T) {
	e := newEnv(t, jmssim.Options{Knobs: jmssim.Knobs{Licensed: true}}, nil)
	r := e.start(testHooks{})
	e.publish(creates(e, 0, 5, 1), "")
	waitFor(t, 10*time.Second, "creates", func() bool { return e.factCount() == 5 })

	c, err := jumpserver.New(jumpserver.Config{URL: e.sim.URL, KeyID: jmssim.DefaultKeyID, Secret: config.Secret(jmssim.DefaultSecret)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteHost(t.Context(), assetIDOf(e, 0).String()); err != nil {
		t.Fatal(err)
	}
	addr := "10.99.99.99"
	if _, err := c.PatchHost(t.Context(), jumpserver.HostPatch{ID: assetIDOf(e, 1).String(), Address: &addr}); err != nil {
		t.Fatal(err)
	}
	e.sim.ResetCounters()
	if err := r.a.Rebuild(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := e.sim.Counters().Requests["GET /api/v1/assets/hosts/{id}/"]; got != 1 {
		t.Errorf("%d confirming GETs, want 1: %v", got, e.sim.Counters().Requests)
	}
	if e.sim.Counters().Writes != 0 {
		t.Fatal("a rebuild wrote to JumpServer")
	}
	gone, _, err := r.a.mirror.Get(t.Context(), ident(0))
	if err != nil || !gone.Deleted || gone.Generation != 1 {
		t.Fatalf("entry 0: %+v %v", gone, err)
	}
	moved, _, err := r.a.mirror.Get(t.Context(), ident(1))
	if err != nil || moved.State.Address != addr || moved.Deleted {
		t.Fatalf("entry 1: %+v %v", moved, err)
	}
	ri, ok := readyInfo(t, e)
	if !ok || ri.Entries != 4 || ri.RootNode != "DEFAULT" || ri.Version != "4.10" {
		t.Fatalf("ready: %+v", ri)
	}
}

func TestNodePath(t *testing.T) {
	e := newEnv(t, jmssim.Options{RootNodeName: "Default"}, nil)
	r := e.start(testHooks{})
	waitFor(t, 10*time.Second, "started", func() bool { _, ok := readyInfo(t, e); return ok })
	for _, tc := range []struct{ in, want string }{
		{"/DEFAULT/阿里云/prod", "/Default/阿里云/prod"},
		{"/{root}/华为云/a", "/Default/华为云/a"},
		{"/Default/x", "/Default/x"},
		{"/Other/x", ""},
		{"DEFAULT/x", ""},
	} {
		got, err := r.a.nodePath(tc.in)
		if got != tc.want || (tc.want == "") != errors.Is(err, errBadPath) {
			t.Errorf("nodePath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNameCandidates(t *testing.T) {
	x := newNameIndex()
	x.add("web", "other-id")
	x.add("WEB-abc123", "other-id2")
	id := ident(0)
	id.InstanceID = "i-xyzabc123"
	batch := map[string]bool{}
	if got := x.pick("web", id, "mine", batch); got != "web-yzabc123" {
		t.Fatalf("pick = %q", got)
	}
	if got := x.pick("web", id, "other-id", map[string]bool{}); got != "web" {
		t.Fatalf("own name: %q", got)
	}
	long := strings.Repeat("名", 130)
	for _, c := range nameCandidates(long, id) {
		if n := len([]rune(c)); n > maxNameLen {
			t.Fatalf("candidate of %d runes", n)
		}
	}
}

func TestPauseReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&jumpserver.Error{Kind: jumpserver.KindAuth}, PauseAuth},
		{&jumpserver.Error{Kind: jumpserver.KindCap, Err: jumpserver.ErrCap}, ""},
		{&jumpserver.Error{Kind: jumpserver.KindNotFound, Err: jumpserver.ErrTemplateNotFound}, PauseTemplate},
		{&jumpserver.Error{Kind: jumpserver.KindUnavailable, Err: jumpserver.ErrBreakerOpen}, PauseBreaker},
		{&jumpserver.Error{Kind: jumpserver.KindConfig, Err: jumpserver.ErrUnknownOrg}, PauseConfig},
		{&jumpserver.Error{Kind: jumpserver.KindValidation}, ""},
		{&jumpserver.Error{Kind: jumpserver.KindUnavailable}, ""},
	} {
		if got := pauseReason(tc.err); got != tc.want {
			t.Errorf("pauseReason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	env := map[string]string{
		"JMSSYNC_JUMPSERVER_URL": "https://jms.example.com", "JMSSYNC_JUMPSERVER_ACCESS_KEY_ID": jmssim.DefaultKeyID,
		"JMSSYNC_JUMPSERVER_ACCESS_KEY_SECRET": "sekrit-value-123", "JMSSYNC_INSTALL_ID": "prod",
	}
	cfg, err := config.Load[Config](config.WithPrefix("JMSSYNC_"), config.WithEnvironment(env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.JumpServer.BatchSize != 100 || cfg.JumpServer.Concurrency != 4 || !cfg.JumpServer.VerifySSL || cfg.RebuildInterval != time.Hour {
		t.Fatalf("defaults: %+v", cfg)
	}
	delete(env, "JMSSYNC_INSTALL_ID")
	env["JMSSYNC_JUMPSERVER_BATCH_SIZE"] = "0"
	_, err = config.Load[Config](config.WithPrefix("JMSSYNC_"), config.WithEnvironment(env))
	if err == nil {
		t.Fatal("no error")
	}
	for _, k := range []string{"INSTALL_ID", "JUMPSERVER_BATCH_SIZE"} {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("error does not name %s: %v", k, err)
		}
	}
	if strings.Contains(err.Error(), "sekrit") {
		t.Fatal("secret in the error")
	}
}
