package playbook

import (
	"context"
	"fmt"
	"reflect"
	stdstrings "strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"

	"github.com/firebreak-sec/firebreak/internal/event"
)

// CostLimit bounds the work one condition may do on one event. Conditions are small
// predicates; anything near this limit is a runaway comprehension, and failing it closed is
// safer than stalling the responder.
const CostLimit = 100_000

// Condition is a compiled CEL boolean expression (`when` or a step's `if`).
type Condition struct {
	// Source is the expression as written, for reasons and runbooks.
	Source string
	prg    cel.Program
}

// Eval evaluates the condition over vars. An error (a runtime failure or the cost limit)
// means the condition could not be decided; callers must not act on it.
func (c *Condition) Eval(ctx context.Context, vars *Vars) (bool, error) {
	out, _, err := c.prg.ContextEval(ctx, vars)
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("condition returned %s, not bool", out.Type().TypeName())
	}
	return b, nil
}

// Account is what conditions know about the account a resource lives in.
type Account struct {
	ID   string
	Name string
	Tags map[string]string
}

// Vars are the variables a condition sees: `event`, `resource`, `account` and `playbook`.
// Build one per decision and reuse it for `when` and every step's `if`.
type Vars struct {
	event, resource, account, playbook ref.Val
}

// NewVars prepares the variables for one decision. resource and account may be nil (their
// fields then read as empty).
func NewVars(ev *event.Event, resource *event.Resource, account *Account, p *Playbook) *Vars {
	if ev == nil {
		ev = &event.Event{}
	}
	if resource == nil {
		resource = &event.Resource{}
	}
	if account == nil {
		account = &Account{}
	}
	if p == nil {
		p = &Playbook{}
	}
	return &Vars{
		event:    &object{t: eventType, v: ev},
		resource: &object{t: resourceType, v: resource},
		account:  &object{t: accountType, v: account},
		playbook: &object{t: playbookType, v: p},
	}
}

// ResolveName implements interpreter.Activation.
func (v *Vars) ResolveName(name string) (any, bool) {
	switch name {
	case "event":
		return v.event, true
	case "resource":
		return v.resource, true
	case "account":
		return v.account, true
	case "playbook":
		return v.playbook, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (v *Vars) Parent() interpreter.Activation { return nil }

// objectType describes one of the variable types to the CEL checker, so that a misspelt
// field (`resource.tgas`) is rejected when the playbook is loaded rather than failing on
// the first event.
type objectType struct {
	name   string
	typ    *types.Type
	fields map[string]*types.FieldType
	names  []string
}

type field struct {
	name string
	typ  *types.Type
	get  func(v any) ref.Val
}

func newObjectType(name string, fields ...field) *objectType {
	t := &objectType{name: name, typ: types.NewObjectType(name, traits.IndexerType), fields: map[string]*types.FieldType{}}
	for _, f := range fields {
		get := f.get
		t.fields[f.name] = &types.FieldType{
			Type:    f.typ,
			IsSet:   func(any) bool { return true },
			GetFrom: func(v any) (any, error) { return get(v), nil },
		}
		t.names = append(t.names, f.name)
	}
	return t
}

var (
	stringList = types.NewListType(types.StringType)
	stringMap  = types.NewMapType(types.StringType, types.StringType)

	resourceType = newObjectType("firebreak.Resource",
		field{"kind", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Resource).Kind) }},
		field{"id", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Resource).ID) }},
		field{"arn", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Resource).ARN) }},
		field{"account", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Resource).Account) }},
		field{"region", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Resource).Region) }},
		field{"tags", stringMap, func(v any) ref.Val { return Tags(v.(*event.Resource).Tags) }},
		field{"details", types.NewMapType(types.StringType, types.DynType), func(v any) ref.Val {
			d := v.(*event.Resource).Details
			if d == nil {
				d = map[string]any{}
			}
			return types.DefaultTypeAdapter.NativeToValue(d)
		}},
	)
	actorType = newObjectType("firebreak.Actor",
		field{"arn", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Actor).ARN) }},
		field{"type", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Actor).Type) }},
		field{"principal_id", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Actor).PrincipalID) }},
		field{"account", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Actor).Account) }},
		field{"access_key_id", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Actor).AccessKeyID) }},
		field{"user_name", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Actor).UserName) }},
		field{"session_issuer", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Actor).SessionIssuer) }},
	)
	networkType = newObjectType("firebreak.Network",
		field{"remote_ips", stringList, func(v any) ref.Val { return strs(v.(*event.Network).RemoteIPs) }},
		field{"local_ips", stringList, func(v any) ref.Val { return strs(v.(*event.Network).LocalIPs) }},
		field{"ports", types.NewListType(types.IntType), func(v any) ref.Val {
			return types.DefaultTypeAdapter.NativeToValue(nonNilInts(v.(*event.Network).Ports))
		}},
		field{"protocol", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Network).Protocol) }},
		field{"direction", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Network).Direction) }},
		field{"domains", stringList, func(v any) ref.Val { return strs(v.(*event.Network).Domains) }},
		field{"user_agents", stringList, func(v any) ref.Val { return strs(v.(*event.Network).UserAgents) }},
	)
	eventType = newObjectType("firebreak.Event",
		field{"id", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Event).ID) }},
		field{"source", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Event).Source) }},
		field{"type", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Event).Type) }},
		field{"account", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Event).Account) }},
		field{"region", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Event).Region) }},
		field{"time", types.TimestampType, func(v any) ref.Val { return types.Timestamp{Time: v.(*event.Event).Time} }},
		field{"severity", types.DoubleType, func(v any) ref.Val { return types.Double(v.(*event.Event).Severity) }},
		field{"title", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Event).Title) }},
		field{"description", types.StringType, func(v any) ref.Val { return types.String(v.(*event.Event).Description) }},
		field{"resources", types.NewListType(resourceType.typ), func(v any) ref.Val {
			rs := v.(*event.Event).Resources
			vals := make([]ref.Val, len(rs))
			for i := range rs {
				vals[i] = &object{t: resourceType, v: &rs[i]}
			}
			return types.NewRefValList(types.DefaultTypeAdapter, vals)
		}},
		field{"actor", actorType.typ, func(v any) ref.Val {
			a := v.(*event.Event).Actor
			if a == nil {
				a = &event.Actor{}
			}
			return &object{t: actorType, v: a}
		}},
		field{"network", networkType.typ, func(v any) ref.Val {
			n := v.(*event.Event).Network
			if n == nil {
				n = &event.Network{}
			}
			return &object{t: networkType, v: n}
		}},
	)
	accountType = newObjectType("firebreak.Account",
		field{"id", types.StringType, func(v any) ref.Val { return types.String(v.(*Account).ID) }},
		field{"name", types.StringType, func(v any) ref.Val { return types.String(v.(*Account).Name) }},
		field{"tags", stringMap, func(v any) ref.Val { return Tags(v.(*Account).Tags) }},
	)
	playbookType = newObjectType("firebreak.Playbook",
		field{"name", types.StringType, func(v any) ref.Val { return types.String(v.(*Playbook).Name) }},
		field{"labels", stringMap, func(v any) ref.Val { return Tags(v.(*Playbook).Labels) }},
	)

	objectTypes = map[string]*objectType{}
)

func init() {
	for _, t := range []*objectType{resourceType, actorType, networkType, eventType, accountType, playbookType} {
		objectTypes[t.name] = t
	}
}

func strs(s []string) ref.Val {
	if s == nil {
		s = []string{}
	}
	return types.NewStringList(types.DefaultTypeAdapter, s)
}

func nonNilInts(s []int) []int {
	if s == nil {
		return []int{}
	}
	return s
}

// object is a value of one of the variable types.
type object struct {
	t *objectType
	v any
}

func (o *object) ConvertToNative(typeDesc reflect.Type) (any, error) {
	if reflect.TypeOf(o.v).AssignableTo(typeDesc) {
		return o.v, nil
	}
	return nil, fmt.Errorf("%s cannot be converted to %v", o.t.name, typeDesc)
}

func (o *object) ConvertToType(typeVal ref.Type) ref.Val {
	if typeVal.TypeName() == o.t.name {
		return o
	}
	if typeVal == types.TypeType {
		return o.t.typ
	}
	return types.NewErr("type conversion error from %s to %s", o.t.name, typeVal.TypeName())
}

func (o *object) Equal(other ref.Val) ref.Val {
	oo, ok := other.(*object)
	return types.Bool(ok && oo.t == o.t && reflect.DeepEqual(oo.v, o.v))
}

func (o *object) Type() ref.Type { return o.t.typ }
func (o *object) Value() any     { return o.v }

// Get supports field access when the checker could not see the type (inside dyn values).
func (o *object) Get(index ref.Val) ref.Val {
	name, ok := index.(types.String)
	if !ok {
		return types.NewErr("no such field %v", index)
	}
	ft, ok := o.t.fields[string(name)]
	if !ok {
		return types.NewErr("no such field %q on %s", string(name), o.t.name)
	}
	v, _ := ft.GetFrom(o.v)
	return v.(ref.Val)
}

// typeProvider adds the variable types to the environment's own provider.
type typeProvider struct {
	types.Provider
}

func (p typeProvider) FindStructType(name string) (*types.Type, bool) {
	if t, ok := objectTypes[name]; ok {
		return types.NewTypeTypeWithParam(t.typ), true
	}
	return p.Provider.FindStructType(name)
}

func (p typeProvider) FindStructFieldNames(name string) ([]string, bool) {
	if t, ok := objectTypes[name]; ok {
		return t.names, true
	}
	return p.Provider.FindStructFieldNames(name)
}

func (p typeProvider) FindStructFieldType(name, fieldName string) (*types.FieldType, bool) {
	if t, ok := objectTypes[name]; ok {
		ft, ok := t.fields[fieldName]
		return ft, ok
	}
	return p.Provider.FindStructFieldType(name, fieldName)
}

// Tags is a tag or label map as conditions see it: a missing key reads as the empty
// string, so `resource.tags["Environment"] != "sandbox"` lets untagged resources through
// instead of failing the decision. `"Environment" in resource.tags` tests presence.
// (`has(resource.tags.Environment)` is always true for that reason; use `in`.)
type Tags map[string]string

var _ traits.Mapper = Tags(nil)

func (t Tags) inner() traits.Mapper {
	m := map[string]string(t)
	if m == nil {
		m = map[string]string{}
	}
	return types.NewStringStringMap(types.DefaultTypeAdapter, m)
}

// ConvertToNative implements ref.Val.
func (t Tags) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return t.inner().ConvertToNative(typeDesc)
}

// ConvertToType implements ref.Val.
func (t Tags) ConvertToType(typeVal ref.Type) ref.Val { return t.inner().ConvertToType(typeVal) }

// Equal implements ref.Val.
func (t Tags) Equal(other ref.Val) ref.Val { return t.inner().Equal(other) }

// Type implements ref.Val.
func (t Tags) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (t Tags) Value() any { return map[string]string(t) }

// Contains implements traits.Container: presence of a key.
func (t Tags) Contains(key ref.Val) ref.Val {
	k, ok := key.(types.String)
	if !ok {
		return types.False
	}
	_, found := t[string(k)]
	return types.Bool(found)
}

// Get implements traits.Indexer.
func (t Tags) Get(key ref.Val) ref.Val {
	v, _ := t.Find(key)
	return v
}

// Find implements traits.Mapper; every string key is found, missing ones as "".
func (t Tags) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return types.NewErr("tag keys are strings, not %s", key.Type().TypeName()), false
	}
	return types.String(t[string(k)]), true
}

// Iterator implements traits.Iterable.
func (t Tags) Iterator() traits.Iterator { return t.inner().Iterator() }

// Size implements traits.Sizer.
func (t Tags) Size() ref.Val { return types.Int(len(t)) }

// celEnv is built once: the declarations are fixed, and building an environment is
// much slower than compiling against one.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		func(e *cel.Env) (*cel.Env, error) {
			return cel.CustomTypeProvider(typeProvider{Provider: e.CELTypeProvider()})(e)
		},
		cel.Variable("event", eventType.typ),
		cel.Variable("resource", resourceType.typ),
		cel.Variable("account", accountType.typ),
		cel.Variable("playbook", playbookType.typ),
	)
})

// compileCondition type-checks src as a boolean expression over the declared variables.
func compileCondition(src string) (*Condition, error) {
	env, err := celEnv()
	if err != nil {
		return nil, err
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		var errs exprErrors
		for _, e := range iss.Errors() {
			errs = append(errs, exprError{line: e.Location.Line(), col: e.Location.Column(), msg: e.Message})
		}
		return nil, errs
	}
	if !ast.OutputType().IsExactType(types.BoolType) {
		return nil, exprErrors{{line: 1, msg: fmt.Sprintf("the expression returns %s; a condition must return bool", ast.OutputType())}}
	}
	prg, err := env.Program(ast, cel.CostLimit(CostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, err
	}
	return &Condition{Source: src, prg: prg}, nil
}

// tagTime parses an RFC 3339 tag value, allowing a bare date as well since that is what
// people write in a change ticket's tag.
func tagTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}

// exprError is a problem at a position inside an expression (line 1-based, column
// 0-based, as CEL reports them).
type exprError struct {
	line, col int
	msg       string
}

type exprErrors []exprError

func (es exprErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.msg
	}
	return stdstrings.Join(msgs, "; ")
}
