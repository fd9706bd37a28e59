package telemetry

import "testing"

// Without the variables (or with the export turned off) no exporter is
// built, so nothing ever dials out.
func TestNoExporterUnlessAsked(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"nothing set":  {},
		"sdk disabled": {envEndpoint: "http://127.0.0.1:1", envSDKDisabled: "true"},
		"none":         {envTracesEndpoint: "http://127.0.0.1:1", envTracesExporter: "none"},
		"headers only": {envHeaders: "authorization=x"},
	} {
		t.Run(name, func(t *testing.T) {
			for _, k := range []string{envSDKDisabled, envTracesExporter, envEndpoint, envTracesEndpoint,
				envProtocol, envTracesProtocol, envHeaders, envTracesHeaders} {
				t.Setenv(k, env[k])
			}
			exp, info, err := envExporter(t.Context())
			if err != nil || exp != nil || info != nil {
				t.Fatalf("exporter %v %v %v", exp, info, err)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	if got := redactURL("https://user:pw@otel.example:4318/v1/traces?token=x"); got != "https://otel.example:4318/v1/traces" {
		t.Errorf("got %s", got)
	}
}
