package telemetry

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/jmssync/jmssync/libs/logging"
)

// The standard OpenTelemetry variables Setup looks at itself. Everything
// else (timeouts, TLS files, compression, the batch processor, the
// sampler) is read by the SDK and the exporter.
const (
	envSDKDisabled     = "OTEL_SDK_DISABLED"
	envTracesExporter  = "OTEL_TRACES_EXPORTER"
	envEndpoint        = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint  = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envProtocol        = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envTracesProtocol  = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	envHeaders         = "OTEL_EXPORTER_OTLP_HEADERS"
	envTracesHeaders   = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
	protoHTTPProtobuf  = "http/protobuf"
	defaultOTLPHTTPURL = "http://localhost:4318"
)

// otlpExport describes the exporter envExporter built, for the start-up log.
type otlpExport struct {
	endpoint string   // credentials removed
	protocol string   // http/protobuf
	headers  []string // header names only: their values are usually tokens
}

// envExporter builds the OTLP span exporter the standard variables ask
// for, or returns nil when they ask for none: without an endpoint (and
// without OTEL_TRACES_EXPORTER=otlp) nothing is exported and nothing is
// dialled, so a service never calls out unless told to.
func envExporter(ctx context.Context) (sdktrace.SpanExporter, *otlpExport, error) {
	if strings.EqualFold(strings.TrimSpace(os.Getenv(envSDKDisabled)), "true") {
		return nil, nil, nil
	}
	endpoint := firstEnv(envTracesEndpoint, envEndpoint)
	switch kind := strings.ToLower(strings.TrimSpace(os.Getenv(envTracesExporter))); kind {
	case "none":
		return nil, nil, nil
	case "":
		if endpoint == "" {
			return nil, nil, nil
		}
	case "otlp":
		if endpoint == "" {
			endpoint = defaultOTLPHTTPURL // the exporter's own default, named for the log
		}
	default:
		return nil, nil, fmt.Errorf("telemetry: %s=%q is not supported (otlp or none)", envTracesExporter, kind)
	}
	protocol := strings.ToLower(firstEnv(envTracesProtocol, envProtocol))
	if protocol == "" {
		protocol = protoHTTPProtobuf
	}
	if protocol != protoHTTPProtobuf {
		// grpc would link the whole gRPC client stack for one exporter; the
		// collector's OTLP/HTTP port (4318) takes the same data.
		return nil, nil, fmt.Errorf("telemetry: OTLP protocol %q is not supported; use %s", protocol, protoHTTPProtobuf)
	}

	// Header values are credentials more often than not: whatever the
	// exporter or the SDK reports later (errors go through the logger),
	// they are masked.
	names := registerHeaderSecrets(os.Getenv(envHeaders), os.Getenv(envTracesHeaders))

	exp, err := otlptracehttp.New(ctx) // reads the OTEL_EXPORTER_OTLP_* variables itself
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry: OTLP trace exporter: %w", err)
	}
	return exp, &otlpExport{endpoint: redactURL(endpoint), protocol: protocol, headers: names}, nil
}

func firstEnv(keys ...string) string {
	for _, k := range keys {
		if v := strings.TrimSpace(os.Getenv(k)); v != "" {
			return v
		}
	}
	return ""
}

// registerHeaderSecrets masks the values of the W3C-baggage-style header
// lists ("k1=v1,k2=v2", values URL-encoded) in every log, and returns the
// header names.
func registerHeaderSecrets(lists ...string) []string {
	var names []string
	for _, list := range lists {
		for pair := range strings.SplitSeq(list, ",") {
			k, v, ok := strings.Cut(pair, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				continue
			}
			v = strings.TrimSpace(v)
			secrets := []string{v}
			if dec, err := url.PathUnescape(v); err == nil && dec != v {
				secrets = append(secrets, dec)
			}
			for _, s := range secrets {
				// "Bearer abc…": the token alone may show up elsewhere too.
				if _, tok, ok := strings.Cut(s, " "); ok {
					secrets = append(secrets, strings.TrimSpace(tok))
				}
			}
			logging.RegisterSecrets(secrets...)
			names = append(names, k)
		}
	}
	return names
}

// redactURL drops credentials from an endpoint for logging.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)" // it might hold credentials
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}
