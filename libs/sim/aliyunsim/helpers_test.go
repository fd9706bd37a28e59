package aliyunsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"

	"github.com/jmssync/jmssync/libs/sim/cloudinv"
)

func TestMain(m *testing.M) {
	// The SDK sends even loopback traffic through these.
	for _, v := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"} {
		os.Unsetenv(v)
	}
	os.Exit(m.Run())
}

var (
	keyOK     = cloudinv.Key{ID: "LTAI5tTestListKey001", Secret: "s3cr3t-list", Account: "1111222233334444", Permission: cloudinv.CanList}
	keyNoPerm = cloudinv.Key{ID: "LTAI5tTestForbidden02", Secret: "s3cr3t-forbidden", Account: "1111222233334444", Permission: cloudinv.ListForbidden}
	keyEmpty  = cloudinv.Key{ID: "LTAI5tTestEmptyKey003", Secret: "s3cr3t-empty", Account: "5555666677778888", Permission: cloudinv.ListEmpty}
	allKeys   = []cloudinv.Key{keyOK, keyNoPerm, keyEmpty}
)

func smallInventory(perRegion int, regions ...string) *cloudinv.Inventory {
	if len(regions) == 0 {
		regions = []string{"cn-hangzhou", "cn-beijing"}
	}
	return cloudinv.New(cloudinv.Spec{Provider: cloudinv.Aliyun, Seed: 42, Regions: regions, PerRegion: perRegion})
}

// ecsClient builds a real SDK client aimed at the simulator, the way a
// collector should.
func ecsClient(t testing.TB, s *Server, k cloudinv.Key, region string) *ecs.Client {
	t.Helper()
	c, err := ecs.NewClientWithOptions(region, sdk.NewConfig(), credentials.NewStaticAKCredentialsProvider(k.ID, k.Secret))
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = s.Addr
	c.SetNoProxy("127.0.0.1")
	return c
}

func stsClient(t testing.TB, s *Server, k cloudinv.Key) *sts.Client {
	t.Helper()
	c, err := sts.NewClientWithOptions("cn-hangzhou", sdk.NewConfig(), credentials.NewStaticAKCredentialsProvider(k.ID, k.Secret))
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = s.Addr
	c.SetNoProxy("127.0.0.1")
	return c
}

// serverError asserts err is an SDK ServerError with this status and code.
func serverError(t testing.TB, err error, status int, code string) *sdkerrors.ServerError {
	t.Helper()
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("want ServerError %d %s, got %T %v", status, code, err, err)
	}
	if se.HttpStatus() != status || se.ErrorCode() != code {
		t.Fatalf("want %d %s, got %d %s (%s)", status, code, se.HttpStatus(), se.ErrorCode(), se.Message())
	}
	if se.RequestId() == "" {
		t.Errorf("error %s has no RequestId", code)
	}
	return se
}

type pageMode int

const (
	byPage pageMode = iota
	byToken
)

// listAll lists a region completely as a collector would. onPage, if set,
// runs after each page; retry, if set, decides whether to retry an error.
func listAll(t testing.TB, c *ecs.Client, region string, mode pageMode, size int, retry func(error) bool) ([]ecs.Instance, int, error) {
	t.Helper()
	var out []ecs.Instance
	calls := 0
	page, token := 1, ""
	for {
		req := ecs.CreateDescribeInstancesRequest()
		req.RegionId = region
		if mode == byPage {
			req.PageNumber = requests.NewInteger(page)
			req.PageSize = requests.NewInteger(size)
		} else {
			req.MaxResults = requests.NewInteger(size)
			req.NextToken = token
		}
		calls++
		if calls > 10000 {
			t.Fatal("listing does not end")
		}
		resp, err := c.DescribeInstances(req)
		if err != nil {
			if retry != nil && retry(err) {
				continue
			}
			return out, calls, err
		}
		got := resp.Instances.Instance
		out = append(out, got...)
		if mode == byPage {
			if resp.PageNumber != page || resp.PageSize != size {
				t.Fatalf("page %d size %d echoed as %d/%d", page, size, resp.PageNumber, resp.PageSize)
			}
			if len(got) < size || page*size >= resp.TotalCount {
				return out, calls, nil
			}
			page++
		} else {
			if len(got) > size {
				t.Fatalf("token page has %d > MaxResults %d", len(got), size)
			}
			if resp.NextToken == "" {
				return out, calls, nil
			}
			token = resp.NextToken
		}
	}
}

func isThrottle(err error) bool {
	var se *sdkerrors.ServerError
	return errors.As(err, &se) && se.ErrorCode() == "Throttling.User"
}

var nonceSeq atomic.Int64

// rawParams returns a complete, unsigned parameter set for action.
func rawParams(k cloudinv.Key, action string, now time.Time) url.Values {
	v := url.Values{}
	version := ECSVersion
	if action == "GetCallerIdentity" {
		version = STSVersion
	}
	v.Set("AccessKeyId", k.ID)
	v.Set("Action", action)
	v.Set("Format", "JSON")
	v.Set("RegionId", "cn-hangzhou")
	v.Set("SignatureMethod", "HMAC-SHA1")
	v.Set("SignatureNonce", fmt.Sprintf("raw-nonce-%d-%d", time.Now().UnixNano(), nonceSeq.Add(1)))
	v.Set("SignatureType", "")
	v.Set("SignatureVersion", "1.0")
	v.Set("Timestamp", now.UTC().Format("2006-01-02T15:04:05Z"))
	v.Set("Version", version)
	return v
}

// rawDo signs v with secret (unless it already has a Signature) and sends it.
func rawDo(t testing.TB, s *Server, method string, v url.Values, secret string) (int, map[string]any) {
	t.Helper()
	if v.Get("Signature") == "" && secret != "" {
		v.Set("Signature", Sign(method, v, secret))
	}
	req, err := http.NewRequest(method, s.URL+"/?"+v.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return doJSON(t, req)
}

func doJSON(t testing.TB, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object: %v: %s", req.Method, req.URL.Path, err, b)
	}
	return resp.StatusCode, m
}

func wantCode(t testing.TB, status int, body map[string]any, wantStatus int, code string) {
	t.Helper()
	if status != wantStatus || body["Code"] != code {
		t.Fatalf("want %d %s, got %d %v", wantStatus, code, status, body)
	}
	for _, f := range []string{"RequestId", "HostId", "Message", "Recommend"} {
		if s, _ := body[f].(string); s == "" {
			t.Errorf("error body lacks %s: %v", f, body)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
