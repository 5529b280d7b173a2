// Command celcheck evaluates Flux healthCheckExprs on objects the way Flux does.
//
// Why: the expressions in deploy/flux/kustomization-health.yaml only help if Flux's own CEL
// environment accepts them and gives the intended answer. This program uses cel-go with the
// options of fluxcd/pkg/runtime/cel (NewExpression) and the order of its StatusEvaluator:
// a status.observedGeneration that differs from metadata.generation is InProgress; then
// inProgress, failed, current; the first true wins; none true is InProgress.
//
// Input (stdin, JSON): {"exprs": {"<Kind>": {"inProgress", "failed", "current"}}, "objects": [...]}
// Output (stdout, JSON): one {"status": "...", "error": "..."} per object, in order.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
)

type exprs struct {
	InProgress string `json:"inProgress"`
	Failed     string `json:"failed"`
	Current    string `json:"current"`
}

type input struct {
	Exprs   map[string]exprs         `json:"exprs"`
	Objects []map[string]interface{} `json:"objects"`
}

type result struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

func program(expr string) (cel.Program, error) {
	env, err := cel.NewEnv(
		cel.HomogeneousAggregateLiterals(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Sets(),
		ext.Encoders(),
	)
	if err != nil {
		return nil, err
	}
	ast, issues := env.Parse(expr)
	if issues != nil && issues.Err() != nil {
		return nil, fmt.Errorf("parse %q: %w", expr, issues.Err())
	}
	return env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.InterruptCheckFrequency(100))
}

func evaluate(e exprs, obj map[string]interface{}) result {
	status, _ := obj["status"].(map[string]interface{})
	meta, _ := obj["metadata"].(map[string]interface{})
	if og, ok := status["observedGeneration"]; ok {
		if gen, ok := meta["generation"]; ok && og != gen {
			return result{Status: "InProgress"}
		}
	}
	for _, step := range []struct{ expr, status string }{
		{e.InProgress, "InProgress"}, {e.Failed, "Failed"}, {e.Current, "Current"},
	} {
		if step.expr == "" {
			continue
		}
		prg, err := program(step.expr)
		if err != nil {
			return result{Status: "Unknown", Error: err.Error()}
		}
		val, _, err := prg.Eval(obj)
		if err != nil {
			return result{Status: "Unknown", Error: err.Error()}
		}
		b, ok := val.(types.Bool)
		if !ok {
			return result{Status: "Unknown", Error: fmt.Sprintf("%q is not boolean", step.expr)}
		}
		if bool(b) {
			return result{Status: step.status}
		}
	}
	return result{Status: "InProgress"}
}

// integers turns whole float64 values into int64, as Kubernetes' unstructured JSON decoding
// does, so generations and observedGenerations compare as they do in Flux.
func integers(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		for k, x := range t {
			t[k] = integers(x)
		}
	case []interface{}:
		for i, x := range t {
			t[i] = integers(x)
		}
	case float64:
		if t == float64(int64(t)) {
			return int64(t)
		}
	}
	return v
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "celcheck:", err)
		os.Exit(2)
	}
	for _, obj := range in.Objects {
		integers(obj)
	}
	out := make([]result, 0, len(in.Objects))
	for _, obj := range in.Objects {
		kind, _ := obj["kind"].(string)
		e, ok := in.Exprs[kind]
		if !ok {
			out = append(out, result{Status: "Unknown", Error: "no expressions for " + kind})
			continue
		}
		out = append(out, evaluate(e, obj))
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "celcheck:", err)
		os.Exit(2)
	}
}
