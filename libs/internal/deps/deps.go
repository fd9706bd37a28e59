// Package deps pins the workspace's direct dependencies while packages that
// use them are being written in parallel. Removed once every import is real.
package deps

import (
	_ "github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	_ "github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	_ "github.com/caarlos0/env/v11"
	_ "github.com/go-fed/httpsig"
	_ "github.com/google/uuid"
	_ "github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	_ "github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/global"
	_ "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/ecs/v2"
	_ "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/ecs/v2/region"
	_ "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3"
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats-server/v2/test"
	_ "github.com/nats-io/nats.go"
	_ "github.com/nats-io/nats.go/jetstream"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/rs/zerolog"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "github.com/sony/gobreaker/v2"
	_ "go.opentelemetry.io/otel"
	_ "go.opentelemetry.io/otel/exporters/prometheus"
	_ "go.opentelemetry.io/otel/propagation"
	_ "go.opentelemetry.io/otel/sdk/metric"
	_ "go.opentelemetry.io/otel/sdk/trace"
	_ "gopkg.in/yaml.v3"
)
