package notifier

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/jmssync/jmssync/libs/config"
	"github.com/jmssync/jmssync/libs/dingtalk"
	"github.com/jmssync/jmssync/libs/logging"
	"github.com/jmssync/jmssync/libs/natsx"
)

// Config is read from JMSSYNC_* variables (config.Load with prefix
// "JMSSYNC_"). Robots are indexed: JMSSYNC_DINGTALK_ROBOTS_0_WEBHOOK,
// _0_SECRET (or _0_SECRET_FILE), _0_AT_MOBILES, _0_AT_ALL, _0_ENABLED,
// _0_NAME. The old tool's notification.dingtalk.* keys map to robot 0.
type Config struct {
	NATS   natsx.Config `envPrefix:"NATS_"`
	Robots []Robot      `envPrefix:"DINGTALK_ROBOTS"`
	// RunTimeout closes a run whose results did not all arrive; the card
	// then says which scopes are missing results.
	RunTimeout time.Duration `env:"NOTIFY_RUN_TIMEOUT" envDefault:"30m"`
	// SendEmpty sends a card for runs without any change.
	SendEmpty bool `env:"NOTIFY_SEND_EMPTY" envDefault:"false"`
	// MaxRows per table of a card (fewer when the card would be too large).
	MaxRows int `env:"NOTIFY_MAX_ROWS" envDefault:"20"`
	// JumpServerURL is the base URL of JumpServer; the card's button opens
	// JumpServerURL + AssetsPath. No button when empty.
	JumpServerURL string `env:"JUMPSERVER_URL"`
	AssetsPath    string `env:"NOTIFY_ASSETS_PATH" envDefault:"/ui/#/console/assets/assets"`
	// RateLimit is messages per robot per minute (DingTalk allows 20).
	RateLimit int `env:"NOTIFY_RATE_LIMIT" envDefault:"18"`
	// AlertRepeat: an alert identical to the last one of its kind and scope
	// is sent again only after this long (0: never).
	AlertRepeat time.Duration `env:"NOTIFY_ALERT_REPEAT" envDefault:"24h"`
	// Lookback is how far back RUNS, ASSETS and failures are read at start
	// to rebuild the runs not closed yet.
	Lookback time.Duration `env:"NOTIFY_LOOKBACK" envDefault:"24h"`
	// FailureSubject carries the applier's dead-lettered intents (failures).
	FailureSubject string `env:"NOTIFY_FAILURE_SUBJECT" envDefault:"jmssync.dlq.applier"`
	// TimeZone of the times shown ("Local", "Asia/Shanghai"…).
	TimeZone string `env:"NOTIFY_TIMEZONE" envDefault:"Local"`
	HTTPAddr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:9464"`
	LogLevel string `env:"LOG_LEVEL" envDefault:"info"`
}

// Robot is one DingTalk custom robot.
type Robot struct {
	// Name labels the robot in logs, metrics and /readyz (robot-<i> when empty).
	Name    string `env:"NAME"`
	Enabled bool   `env:"ENABLED" envDefault:"true"`
	// Webhook carries the access token: it is a secret (WEBHOOK_FILE works).
	Webhook   config.Secret `env:"WEBHOOK"`
	Secret    config.Secret `env:"SECRET"`
	AtMobiles []string      `env:"AT_MOBILES"`
	AtAll     bool          `env:"AT_ALL"`
}

// Validate checks one robot.
func (r Robot) Validate() error {
	if !r.Enabled {
		return nil
	}
	var errs []error
	if !r.Webhook.IsSet() {
		errs = append(errs, config.Invalid("WEBHOOK", "required for an enabled robot (or WEBHOOK_FILE)"))
	} else if _, err := dingtalk.New(dingtalk.Options{Webhook: r.Webhook.Reveal()}); err != nil {
		errs = append(errs, config.Invalid("WEBHOOK", "%s", logging.Redact(err.Error())))
	}
	if r.Secret.IsSet() && !strings.HasPrefix(r.Secret.Reveal(), "SEC") {
		errs = append(errs, config.Invalid("SECRET", "a DingTalk signing secret starts with SEC"))
	}
	return errors.Join(errs...)
}

// Validate checks the values that have no safe meaning.
func (c Config) Validate() error {
	var errs []error
	if c.RunTimeout <= 0 {
		errs = append(errs, config.Invalid("NOTIFY_RUN_TIMEOUT", "must be positive, not %s", c.RunTimeout))
	}
	if c.MaxRows < 1 || c.MaxRows > 200 {
		errs = append(errs, config.Invalid("NOTIFY_MAX_ROWS", "must be 1 to 200, not %d", c.MaxRows))
	}
	if c.RateLimit < 1 || c.RateLimit > 20 {
		errs = append(errs, config.Invalid("NOTIFY_RATE_LIMIT", "must be 1 to 20 (DingTalk's limit), not %d", c.RateLimit))
	}
	if c.Lookback < c.RunTimeout {
		errs = append(errs, config.Invalid("NOTIFY_LOOKBACK", "must be at least NOTIFY_RUN_TIMEOUT"))
	}
	if c.AlertRepeat < 0 {
		errs = append(errs, config.Invalid("NOTIFY_ALERT_REPEAT", "must not be negative"))
	}
	if c.JumpServerURL != "" {
		u, err := url.Parse(c.JumpServerURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			errs = append(errs, config.Invalid("JUMPSERVER_URL", "an http(s) URL without credentials"))
		}
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil {
		errs = append(errs, config.Invalid("NOTIFY_TIMEZONE", "unknown time zone %q", c.TimeZone))
	}
	if c.FailureSubject == "" {
		errs = append(errs, config.Invalid("NOTIFY_FAILURE_SUBJECT", "must not be empty"))
	}
	return errors.Join(errs...)
}

// ButtonURL is the JumpServer asset page, or "" without a JumpServer URL.
func (c Config) ButtonURL() string {
	if c.JumpServerURL == "" {
		return ""
	}
	return strings.TrimRight(c.JumpServerURL, "/") + "/" + strings.TrimLeft(c.AssetsPath, "/")
}
