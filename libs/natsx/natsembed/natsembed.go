// Package natsembed runs the NATS server with JetStream inside the
// all-in-one binary: one machine needs no separate NATS. The store is a
// directory on disk, so streams, the mirror and held deletion plans survive
// restarts. It listens on loopback only.
package natsembed

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure the embedded server.
type Options struct {
	// DataDir holds the JetStream store (created if missing).
	DataDir string
	// Addr is the loopback host:port clients use; "" picks a free port.
	Addr string
	// MaxPayload caps a message (the NATS default, 1 MiB, when 0).
	MaxPayload int32
	// ReadyTimeout bounds the start (10s when 0).
	ReadyTimeout time.Duration
}

// Server is a running embedded server.
type Server struct {
	s *server.Server
}

// Start starts the server and waits until it accepts connections.
func Start(o Options) (*Server, error) {
	if o.DataDir == "" {
		return nil, errors.New("natsembed: a data directory is required")
	}
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("natsembed: data directory: %w", err)
	}
	host, port := "127.0.0.1", -1
	if o.Addr != "" {
		h, p, err := net.SplitHostPort(o.Addr)
		if err != nil {
			return nil, fmt.Errorf("natsembed: address %q: %w", o.Addr, err)
		}
		if ip := net.ParseIP(h); h != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("natsembed: address %q is not loopback; run a real NATS server to listen on a network", o.Addr)
		}
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("natsembed: port %q: %w", p, err)
		}
		host = h
	}
	opts := &server.Options{
		ServerName: "jms-sync",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		MaxPayload: o.MaxPayload,
		NoSigs:     true, // the binary handles signals itself
		NoLog:      true,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: %w", err)
	}
	go s.Start()
	wait := o.ReadyTimeout
	if wait == 0 {
		wait = 10 * time.Second
	}
	if !s.ReadyForConnections(wait) {
		s.Shutdown()
		return nil, fmt.Errorf("natsembed: server not ready within %s (is the data directory %s locked by another process?)", wait, dir)
	}
	return &Server{s: s}, nil
}

// URL is the client URL.
func (s *Server) URL() string { return s.s.ClientURL() }

// Shutdown stops the server and waits for it to finish.
func (s *Server) Shutdown() {
	s.s.Shutdown()
	s.s.WaitForShutdown()
}
