// render: the subset of `helm template` that helm/traceiface uses, for the chart test (helm
// itself is not installable here). Built against Debian's packaged sprig and ghodss/yaml (the
// library helm's sigs.k8s.io/yaml was forked from), GOPATH mode, offline.
//
// Semantics kept from helm v3's engine: one text/template set holding every file of
// templates/ (named "<chart>/templates/<file>"), missingkey=zero with "<no value>" removed,
// sprig's TxtFuncMap without env/expandenv, helm's include, tpl, required, toYaml, fromYaml,
// toJson, fromJson; files whose name starts with "_" and NOTES.txt are not output; values are
// read through YAML->JSON (numbers become float64) and user values coalesce over the chart's
// (maps merge, null deletes). Top-level objects: .Values, .Release, .Chart, .Files (Get,
// GetBytes), .Template (Name, BasePath), .Capabilities (KubeVersion, APIVersions.Has).
//
// usage: render -chart DIR [-f VALUES.yaml]... [-name NAME] [-namespace NS]
//
//	[-api-versions monitoring.coreos.com/v1,...] [-values-out MERGED.json]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"github.com/ghodss/yaml"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// Files is helm's .Files: every file of the chart outside templates/, by relative path.
type Files map[string][]byte

func (f Files) Get(name string) string      { return string(f[name]) }
func (f Files) GetBytes(name string) []byte { return f[name] }

type apiVersions []string

func (a apiVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

func readYAML(file string) (map[string]interface{}, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return out, nil
}

// coalesce merges src over dst, as helm does with user values over the chart's.
func coalesce(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, sok := v.(map[string]interface{})
		dm, dok := dst[k].(map[string]interface{})
		if sok && dok {
			dst[k] = coalesce(dm, sm)
		} else {
			dst[k] = v
		}
	}
	return dst
}

func toYAML(v interface{}) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

func loadFiles(root string) (Files, map[string]string, error) {
	files, tpls := Files{}, map[string]string{}
	var walk func(dir, rel string) error
	walk = func(dir, rel string) error {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			p, r := filepath.Join(dir, e.Name()), path.Join(rel, e.Name())
			st, err := os.Stat(p) // follows symlinks, as helm's loader does
			if err != nil {
				return err
			}
			if st.IsDir() {
				if err := walk(p, r); err != nil {
					return err
				}
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if strings.HasPrefix(r, "templates/") {
				tpls[r] = string(b)
			} else {
				files[r] = b
			}
		}
		return nil
	}
	return files, tpls, walk(root, "")
}

func main() {
	chartDir := flag.String("chart", "", "chart directory")
	name := flag.String("name", "traceiface", "release name")
	ns := flag.String("namespace", "monitoring", "release namespace")
	apis := flag.String("api-versions", "", "comma-separated extra API versions")
	valuesOut := flag.String("values-out", "", "write the merged values here as JSON")
	var valueFiles multiFlag
	flag.Var(&valueFiles, "f", "values file (repeatable)")
	flag.Parse()
	if err := run(*chartDir, *name, *ns, *apis, *valuesOut, valueFiles); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(chartDir, name, ns, apis, valuesOut string, valueFiles []string) error {
	if chartDir == "" {
		return errors.New("-chart is required")
	}
	chartMeta, err := readYAML(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return err
	}
	// .Chart is helm's chart.Metadata: the Chart.yaml keys with a capital first letter.
	chart := map[string]interface{}{}
	for k, v := range chartMeta {
		chart[strings.ToUpper(k[:1])+k[1:]] = v
	}
	chartName, _ := chart["Name"].(string)
	values, err := readYAML(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return err
	}
	for _, f := range valueFiles {
		user, err := readYAML(f)
		if err != nil {
			return err
		}
		values = coalesce(values, user)
	}
	if valuesOut != "" {
		b, _ := json.MarshalIndent(values, "", "  ")
		if err := os.WriteFile(valuesOut, b, 0o644); err != nil {
			return err
		}
	}
	files, tpls, err := loadFiles(chartDir)
	if err != nil {
		return err
	}
	versions := apiVersions{"v1", "apps/v1"}
	if apis != "" {
		versions = append(versions, strings.Split(apis, ",")...)
	}
	top := map[string]interface{}{
		"Values": values,
		"Chart":  chart,
		"Files":  files,
		"Release": map[string]interface{}{"Name": name, "Namespace": ns, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1},
		"Capabilities": map[string]interface{}{"APIVersions": versions,
			"KubeVersion": map[string]interface{}{"Version": "v1.30.0", "Major": "1",
				"Minor": "30", "GitVersion": "v1.30.0"}},
	}

	t := template.New("gotpl").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["toJson"] = func(v interface{}) string { b, _ := json.Marshal(v); return string(b) }
	funcs["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["include"] = func(n string, data interface{}) (string, error) {
		var b strings.Builder
		err := t.ExecuteTemplate(&b, n, data)
		return b.String(), err
	}
	funcs["tpl"] = func(s string, data interface{}) (string, error) {
		c, err := t.Clone()
		if err != nil {
			return "", err
		}
		if _, err := c.New("tpl").Parse(s); err != nil {
			return "", err
		}
		var b strings.Builder
		err = c.ExecuteTemplate(&b, "tpl", data)
		return strings.ReplaceAll(b.String(), "<no value>", ""), err
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil || v == "" {
			return v, errors.New(msg)
		}
		return v, nil
	}
	t.Funcs(funcs)

	names := make([]string, 0, len(tpls))
	for rel := range tpls {
		names = append(names, rel)
	}
	sort.Strings(names)
	for _, rel := range names {
		if _, err := t.New(chartName + "/" + rel).Parse(tpls[rel]); err != nil {
			return err
		}
	}
	for _, rel := range names {
		base := path.Base(rel)
		if strings.HasPrefix(base, "_") || base == "NOTES.txt" {
			continue
		}
		full := chartName + "/" + rel
		vals := map[string]interface{}{}
		for k, v := range top {
			vals[k] = v
		}
		vals["Template"] = map[string]interface{}{"Name": full,
			"BasePath": chartName + "/templates"}
		var b strings.Builder
		if err := t.ExecuteTemplate(&b, full, vals); err != nil {
			return err
		}
		out := strings.ReplaceAll(b.String(), "<no value>", "")
		if strings.TrimSpace(out) == "" {
			continue
		}
		fmt.Printf("---\n# Source: %s\n%s\n", full, out)
	}
	return nil
}
