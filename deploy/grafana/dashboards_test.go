package grafana

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The data source types the dashboards may use, as Grafana names them.
const (
	typePostgres = "grafana-postgresql-datasource"
	typeInflux   = "influxdb"
	// typeExpr is a Grafana server-side expression: math over the panel's other queries,
	// evaluated by Grafana itself, so the tests check its references and run its inputs.
	typeExpr = "__expr__"
)

// exprRef finds the queries an expression refers to ($A, ${B}).
var exprRef = regexp.MustCompile(`\$\{?([A-Za-z][A-Za-z0-9_]*)\}?`)

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type gridPos struct {
	H, W, X, Y int
}

type target struct {
	RefID        string `json:"refId"`
	Datasource   *dsRef `json:"datasource"`
	RawQuery     bool   `json:"rawQuery"`
	RawSQL       string `json:"rawSql"`
	Query        string `json:"query"`
	Format       string `json:"format"`
	ResultFormat string `json:"resultFormat"`
	// Type and Expression are set on expression targets only.
	Type       string `json:"type"`
	Expression string `json:"expression"`
	Hide       bool   `json:"hide"`
}

type panel struct {
	ID         int      `json:"id"`
	Type       string   `json:"type"`
	Title      string   `json:"title"`
	Datasource *dsRef   `json:"datasource"`
	GridPos    *gridPos `json:"gridPos"`
	Targets    []target `json:"targets"`
	// Panels are the children of a collapsed row.
	Panels []panel `json:"panels"`
}

type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

// query is one panel target to run: where it comes from, on which data source type, and its
// text before expansion.
type query struct {
	File, Panel, RefID string
	Type               string
	Text               string
}

func (q query) String() string {
	return fmt.Sprintf("%s: panel %q target %s", q.File, q.Panel, q.RefID)
}

// loadDashboards reads every dashboard JSON the provider loads.
func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("dashboards", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no dashboards in dashboards/*.json")
	}
	out := map[string]dashboard{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = d
	}
	return out
}

// provisionedSources returns the type of each provisioned data source by uid.
func provisionedSources(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("provisioning", "datasources", "tokentail.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, URL string
			JSONData             map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("datasources: %v", err)
	}
	if f.APIVersion != 1 {
		t.Errorf("datasources apiVersion = %d, want 1", f.APIVersion)
	}
	out := map[string]string{}
	for _, ds := range f.Datasources {
		if ds.Name == "" || ds.UID == "" || ds.URL == "" {
			t.Errorf("data source %+v: want name, uid and url", ds)
		}
		out[ds.UID] = ds.Type
		if ds.Type == typeInflux {
			if got, want := ds.JSONData["version"], "InfluxQL"; got != want {
				t.Errorf("influx data source version = %v, want %v (the dashboards are InfluxQL)", got, want)
			}
		}
	}
	return out
}

// allPanels flattens rows.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// queries lists every target of every dashboard, checking on the way that each one names a
// provisioned data source and is a raw query the tests can run.
func queries(t *testing.T) []query {
	t.Helper()
	sources := provisionedSources(t)
	var out []query
	for file, d := range loadDashboards(t) {
		for _, p := range allPanels(d.Panels) {
			if p.Type == "row" {
				continue
			}
			for _, tg := range p.Targets {
				ds := tg.Datasource
				if ds == nil {
					ds = p.Datasource
				}
				q := query{File: file, Panel: p.Title, RefID: tg.RefID}
				if ds == nil {
					t.Errorf("%s: no data source", q)
					continue
				}
				if ds.Type == typeExpr {
					checkExpression(t, q, tg, p.Targets)
					continue
				}
				typ, ok := sources[ds.UID]
				if !ok {
					t.Errorf("%s: data source uid %q is not provisioned", q, ds.UID)
					continue
				}
				if typ != ds.Type {
					t.Errorf("%s: data source %q has type %q, provisioned as %q", q, ds.UID, ds.Type, typ)
				}
				if !tg.RawQuery {
					t.Errorf("%s: rawQuery is false; the tests run raw queries only", q)
				}
				q.Type = typ
				switch typ {
				case typePostgres:
					q.Text = tg.RawSQL
					if !slices.Contains([]string{"time_series", "table"}, tg.Format) {
						t.Errorf("%s: format %q, want time_series or table", q, tg.Format)
					}
				case typeInflux:
					q.Text = tg.Query
					if !slices.Contains([]string{"time_series", "table"}, tg.ResultFormat) {
						t.Errorf("%s: resultFormat %q, want time_series or table", q, tg.ResultFormat)
					}
				default:
					t.Errorf("%s: data source type %q has no test", q, typ)
					continue
				}
				if strings.TrimSpace(q.Text) == "" {
					t.Errorf("%s: empty query", q)
					continue
				}
				out = append(out, q)
			}
		}
	}
	slices.SortFunc(out, func(a, b query) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// checkExpression checks a math expression: it names only hidden queries of its panel.
func checkExpression(t *testing.T, q query, tg target, all []target) {
	t.Helper()
	if tg.Type != "math" || tg.Expression == "" {
		t.Errorf("%s: expression of type %q %q, want a math expression", q, tg.Type, tg.Expression)
		return
	}
	refs := exprRef.FindAllStringSubmatch(tg.Expression, -1)
	if len(refs) == 0 {
		t.Errorf("%s: expression %q refers to no query", q, tg.Expression)
	}
	for _, m := range refs {
		i := slices.IndexFunc(all, func(o target) bool { return o.RefID == m[1] })
		switch {
		case i < 0:
			t.Errorf("%s: expression %q refers to $%s, which is not a query of the panel", q, tg.Expression, m[1])
		case !all[i].Hide:
			t.Errorf("%s: $%s is an input of an expression and should be hidden", q, m[1])
		}
	}
}

func expand(q query, r TimeRange) (string, error) {
	if q.Type == typePostgres {
		return ExpandSQL(q.Text, r)
	}
	return ExpandInfluxQL(q.Text, r)
}

func TestDashboards_Wellformed(t *testing.T) {
	uids := map[string]string{}
	for file, d := range loadDashboards(t) {
		t.Run(file, func(t *testing.T) {
			if d.UID == "" || d.Title == "" {
				t.Errorf("uid %q, title %q: want both", d.UID, d.Title)
			}
			if other, dup := uids[d.UID]; dup {
				t.Errorf("uid %q is also the uid of %s", d.UID, other)
			}
			uids[d.UID] = file
			ids := map[int]bool{}
			titles := map[string]bool{}
			var boxes []panel
			for _, p := range allPanels(d.Panels) {
				if p.ID <= 0 || ids[p.ID] {
					t.Errorf("panel %q: id %d is missing or not unique", p.Title, p.ID)
				}
				ids[p.ID] = true
				if p.Title == "" || titles[p.Title] {
					t.Errorf("panel %d: title %q is empty or not unique", p.ID, p.Title)
				}
				titles[p.Title] = true
				g := p.GridPos
				if g == nil || g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
					t.Errorf("panel %q: gridPos %+v, want a box inside 24 columns", p.Title, g)
					continue
				}
				for _, o := range boxes {
					h := o.GridPos
					if g.X < h.X+h.W && h.X < g.X+g.W && g.Y < h.Y+h.H && h.Y < g.Y+g.H {
						t.Errorf("panels %q and %q overlap", p.Title, o.Title)
					}
				}
				boxes = append(boxes, p)
				if p.Type != "row" && len(p.Targets) == 0 {
					t.Errorf("panel %q has no query", p.Title)
				}
				refs := map[string]bool{}
				for _, tg := range p.Targets {
					if tg.RefID == "" || refs[tg.RefID] {
						t.Errorf("panel %q: refId %q is missing or not unique", p.Title, tg.RefID)
					}
					refs[tg.RefID] = true
				}
			}
		})
	}
}

// TestDashboards_MacrosSupported needs no server: every query must expand with the macros
// the integration test knows, so a panel cannot slip past it.
func TestDashboards_MacrosSupported(t *testing.T) {
	qs := queries(t)
	if len(qs) < 20 {
		t.Errorf("got %d queries, want the two dashboards' 20 or more", len(qs))
	}
	for _, q := range qs {
		if _, err := expand(q, testRange); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}
