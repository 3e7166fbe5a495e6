package report

import (
	"fmt"
	"html/template"
	"strings"
)

// The charts are inline SVG drawn here, with no script, so the HTML file
// reads the same offline, in a mail client or printed. Every text that
// comes from the data goes through template.HTMLEscapeString.

const (
	chartW    = 880
	chartH    = 220
	padLeft   = 70
	padBottom = 34
	padTop    = 24
)

var esc = template.HTMLEscapeString

// barPoint is one bar or point: its label, its value for geometry and the
// text its tooltip shows.
type barPoint struct {
	label string
	value float64
	tip   string
}

// columnChart draws vertical bars, one per point, with the y axis labelled
// by yLabel(value).
func columnChart(title string, pts []barPoint, yMax float64, yLabel func(float64) string) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %d %d" role="img" aria-label="%s">`, chartW, chartH, esc(title))
	plotW, plotH := float64(chartW-padLeft-10), float64(chartH-padTop-padBottom)
	axes(&b, yMax, plotH, yLabel)
	if len(pts) > 0 && yMax > 0 {
		bw := plotW / float64(len(pts))
		gap := bw * 0.15
		for i, p := range pts {
			h := p.value / yMax * plotH
			x := float64(padLeft) + float64(i)*bw
			fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s</title></rect>`,
				x+gap/2, float64(padTop)+plotH-h, bw-gap, h, esc(p.label+": "+p.tip))
		}
	}
	xLabels(&b, pts, plotW, plotH)
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// axes draws the baseline and three y ticks.
func axes(b *strings.Builder, yMax, plotH float64, yLabel func(float64) string) {
	for i := 0; i <= 2; i++ {
		v := yMax * float64(i) / 2
		y := float64(padTop) + plotH - plotH*float64(i)/2
		fmt.Fprintf(b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, padLeft, y, chartW-10, y)
		fmt.Fprintf(b, `<text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>`, padLeft-6, y+4, esc(yLabel(v)))
	}
}

// xLabels writes at most about ten labels under the plot.
func xLabels(b *strings.Builder, pts []barPoint, plotW, plotH float64) {
	if len(pts) == 0 {
		return
	}
	every := (len(pts) + 9) / 10
	bw := plotW / float64(len(pts))
	for i := 0; i < len(pts); i += every {
		x := float64(padLeft) + float64(i)*bw + bw/2
		fmt.Fprintf(b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x, float64(padTop)+plotH+18, esc(pts[i].label))
	}
}

// lineSeries is one line of a line chart.
type lineSeries struct {
	name  string
	class string
	pts   []barPoint // value < 0: no data at that point
}

// lineChart draws several series over the same x labels.
func lineChart(title string, series []lineSeries, yMax float64, yLabel func(float64) string) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %d %d" role="img" aria-label="%s">`, chartW, chartH, esc(title))
	plotW, plotH := float64(chartW-padLeft-10), float64(chartH-padTop-padBottom)
	axes(&b, yMax, plotH, yLabel)
	if len(series) == 0 {
		b.WriteString("</svg>")
		return template.HTML(b.String())
	}
	n := len(series[0].pts)
	bw := plotW / float64(max(n, 1))
	for _, s := range series {
		var path []string
		for i, p := range s.pts {
			if p.value < 0 || yMax <= 0 {
				continue
			}
			x := float64(padLeft) + float64(i)*bw + bw/2
			y := float64(padTop) + plotH - p.value/yMax*plotH
			path = append(path, fmt.Sprintf("%.1f,%.1f", x, y))
			fmt.Fprintf(&b, `<circle class="%s" cx="%.1f" cy="%.1f" r="2.5"><title>%s</title></circle>`, s.class, x, y, esc(p.label+" "+s.name+": "+p.tip))
		}
		if len(path) > 1 {
			fmt.Fprintf(&b, `<polyline class="%s" points="%s"/>`, s.class, strings.Join(path, " "))
		}
	}
	xLabels(&b, series[0].pts, plotW, plotH)
	for i, s := range series {
		x := padLeft + 10 + i*90
		fmt.Fprintf(&b, `<rect class="%s" x="%d" y="2" width="10" height="10"/><text class="tick" x="%d" y="11">%s</text>`,
			s.class, x, x+14, esc(s.name))
	}
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// barList draws horizontal bars, one labelled line per point.
func barList(title string, pts []barPoint) template.HTML {
	const rowH, labelW, valueW = 24, 220, 90
	h := max(len(pts), 1)*rowH + 8
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %d %d" role="img" aria-label="%s">`, chartW/2, h, esc(title))
	if len(pts) == 0 {
		fmt.Fprintf(&b, `<text class="tick" x="0" y="16">no data</text></svg>`)
		return template.HTML(b.String())
	}
	top := 0.0
	for _, p := range pts {
		top = max(top, p.value)
	}
	plotW := float64(chartW/2 - labelW - valueW)
	for i, p := range pts {
		y := i*rowH + 4
		w := 0.0
		if top > 0 {
			w = p.value / top * plotW
		}
		label := p.label
		if r := []rune(label); len(r) > 30 {
			label = string(r[:29]) + "…"
		}
		fmt.Fprintf(&b, `<text class="label" x="%d" y="%d" text-anchor="end">%s</text>`, labelW-6, y+15, esc(label))
		fmt.Fprintf(&b, `<rect class="bar" x="%d" y="%d" width="%.1f" height="%d"><title>%s</title></rect>`, labelW, y+3, w, rowH-8, esc(p.label+": "+p.tip))
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%d">%s</text>`, float64(labelW)+w+6, y+15, esc(p.tip))
	}
	b.WriteString("</svg>")
	return template.HTML(b.String())
}
