package influx

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TEMPORARY until internal/testenv lands: targets from the environment.

type influxTarget struct {
	URL      string // base URL
	Database string // for InfluxQL queries
	Bucket   string // for writes: database/retention-policy
}

type vmTarget struct {
	URL string
}

var dbSeq atomic.Int64

func influxServer(t testing.TB) influxTarget {
	t.Helper()
	u := os.Getenv("TOKENTAIL_TEST_INFLUX_URL")
	if u == "" {
		t.Skip("TOKENTAIL_TEST_INFLUX_URL not set")
	}
	db := fmt.Sprintf("t_%d_%d", time.Now().UnixNano(), dbSeq.Add(1))
	resp, err := http.PostForm(strings.TrimSuffix(u, "/")+"/query", url.Values{"q": {"CREATE DATABASE " + db}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Cleanup(func() {
		resp, err := http.PostForm(strings.TrimSuffix(u, "/")+"/query", url.Values{"q": {"DROP DATABASE " + db}})
		if err == nil {
			resp.Body.Close()
		}
	})
	return influxTarget{URL: u, Database: db, Bucket: db + "/autogen"}
}

func vmServer(t testing.TB) vmTarget {
	t.Helper()
	u := os.Getenv("TOKENTAIL_TEST_VM_URL")
	if u == "" {
		t.Skip("TOKENTAIL_TEST_VM_URL not set")
	}
	return vmTarget{URL: u}
}
