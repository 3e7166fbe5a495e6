package rules

import (
	"strings"
	"text/template"
)

// templateData is what annotation templates see.
type templateData struct {
	Labels    map[string]string
	Value     float64
	Threshold float64
	Severity  string
	Rule      string
}

// templateFuncs are the functions annotation templates may call, besides
// text/template's own (printf among them).
var templateFuncs = template.FuncMap{
	// humanize prints a number short: 1234.5678 → "1234.57", 3 → "3".
	"humanize": formatValue,
	// percent prints a ratio as a percentage: 0.0312 → "3.12%".
	"percent": func(v float64) string { return formatValue(float64(int64(v*10000+0.5))/100) + "%" },
}

// annotate executes the rule's annotation templates for t. A template that
// fails (say, a function given the wrong type) yields its error text, so the
// alert still goes out.
func (rs *ruleState) annotate(t *Transition) Labels {
	if len(rs.r.Annotations) == 0 {
		return nil
	}
	data := templateData{Labels: t.Labels.Map(), Value: t.Value, Threshold: t.Threshold,
		Severity: t.Severity.String(), Rule: rs.r.Name}
	out := make(Labels, 0, len(rs.r.Annotations))
	var b strings.Builder
	for _, a := range rs.r.Annotations {
		b.Reset()
		if err := a.tmpl.Execute(&b, data); err != nil {
			b.Reset()
			b.WriteString("template error: " + err.Error())
		}
		out = append(out, Label{Name: a.Name, Value: b.String()})
	}
	return out
}
