package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/caarlos0/env/v11"
)

// Validator is implemented by a configuration struct, a nested struct or a
// field type that checks its own values. Return [Invalid] errors (joined with
// errors.Join when there are several) so each problem names its variable.
type Validator interface {
	Validate() error
}

// FileSuffix is appended to the variable of a [Secret] field to read the
// secret from a file (Docker and Kubernetes secrets): PASSWORD_FILE=/run/secrets/pw.
const FileSuffix = "_FILE"

// Option changes how [Load] reads the environment.
type Option func(*options)

type options struct {
	prefix  string
	environ map[string]string
	funcMap map[reflect.Type]env.ParserFunc
}

// WithPrefix prepends prefix to every variable name (e.g. "APPLIER_").
func WithPrefix(prefix string) Option { return func(o *options) { o.prefix = prefix } }

// WithEnvironment reads variables from m instead of the process environment
// (tests, or an environment merged with a YAML file).
func WithEnvironment(m map[string]string) Option {
	return func(o *options) { o.environ = maps.Clone(m) }
}

// WithParsers adds parsers for custom field types (see env.Options.FuncMap).
func WithParsers(m map[reflect.Type]env.ParserFunc) Option {
	return func(o *options) { o.funcMap = m }
}

// Load parses T from the environment with caarlos0/env tags (env, envDefault,
// envPrefix, required, notEmpty, …), then runs every Validate method it finds
// (on T, on nested structs and on field types). It reports every problem at
// once in an *[Error], each naming its environment variable, and returns the
// zero T on error.
//
// Every field of type [Secret] (or *Secret) with variable KEY may instead be
// given as KEY_FILE=<path>: the file is read and trailing CR/LF characters are
// trimmed. Setting both KEY and KEY_FILE is an error. (env's own ",file" tag
// option is different: it makes KEY itself hold the path, untrimmed.)
func Load[T any](opts ...Option) (T, error) {
	var zero T
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.environ == nil {
		o.environ = processEnviron()
	}
	environ := o.environ

	var cfg T
	root := reflect.ValueOf(&cfg).Elem()
	if root.Kind() != reflect.Struct {
		return zero, fmt.Errorf("config: Load needs a struct type, got %s", root.Type())
	}

	var problems []error
	secrets := secretEnvValues(root, o.prefix, environ)

	// KEY_FILE for secret fields: resolve into the environment env parses.
	walk(root, o.prefix, environ, func(l leaf) {
		if l.key == "" || !isSecretType(l.typ) {
			return
		}
		fileKey := l.key + FileSuffix
		path := environ[fileKey]
		if path == "" {
			return
		}
		if environ[l.key] != "" {
			problems = append(problems, &FieldError{Key: fileKey, Msg: "set only one of " + l.key + " and " + fileKey})
			return
		}
		b, err := os.ReadFile(path)
		if err != nil {
			problems = append(problems, &FieldError{Key: fileKey, Msg: "read secret file: " + err.Error()})
			return
		}
		v := strings.TrimRight(string(b), "\r\n")
		environ[l.key] = v
		secrets = append(secrets, v)
	}, nil)

	err := env.ParseWithOptions(&cfg, env.Options{Environment: environ, Prefix: o.prefix, FuncMap: o.funcMap})

	var leaves []leaf
	walk(root, o.prefix, environ, func(l leaf) { leaves = append(leaves, l) }, nil)
	failed := map[string]bool{}
	for _, e := range flatten(err) {
		p := translate(e, leaves, environ, o.funcMap)
		var fe *FieldError
		if errors.As(p, &fe) {
			failed[fe.Key] = true
		}
		problems = append(problems, p)
	}

	// Validation runs even when parsing failed, so that one run lists
	// everything; a key that already failed to parse is not reported twice.
	var invalid []error
	walk(root, o.prefix, environ, func(l leaf) {
		if l.key == "" || l.v.Kind() == reflect.Struct {
			return // structs are validated as nodes
		}
		if val := asValidator(l.v); val != nil {
			for _, e := range flatten(val.Validate()) {
				var fe *FieldError
				if errors.As(e, &fe) {
					invalid = append(invalid, &FieldError{Key: l.key, Msg: fe.Msg})
				} else {
					invalid = append(invalid, &FieldError{Key: l.key, Msg: e.Error()})
				}
			}
		}
	}, func(v reflect.Value, prefix string) {
		if val := asValidator(v); val != nil {
			invalid = append(invalid, prefixed(prefix, val.Validate())...)
		}
	})
	for _, e := range invalid {
		var fe *FieldError
		if errors.As(e, &fe) && failed[fe.Key] {
			continue
		}
		problems = append(problems, e)
	}

	if len(problems) > 0 {
		secrets = append(secrets, SecretValues(&cfg)...)
		return zero, newError(problems, secrets)
	}
	return cfg, nil
}

// SecretValues returns the non-empty values of every [Secret] field in cfg (a
// struct or a pointer to one, nested structs included), e.g. to register them
// with the logger's redaction.
func SecretValues(cfg any) []string {
	v := reflect.ValueOf(cfg)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	walk(v, "", nil, func(l leaf) {
		if s := secretOf(l.v); s != "" {
			out = append(out, s)
		}
	}, nil)
	return out
}

var secretType = reflect.TypeFor[Secret]()

func isSecretType(t reflect.Type) bool {
	return t == secretType || (t.Kind() == reflect.Pointer && t.Elem() == secretType)
}

func secretOf(v reflect.Value) string {
	switch {
	case v.Type() == secretType:
		return v.String()
	case v.Kind() == reflect.Pointer && v.Type().Elem() == secretType && !v.IsNil():
		return v.Elem().String()
	}
	return ""
}

// secretEnvValues returns the raw environment values of secret keys, so that
// they are masked in error text even if they never reached the struct.
func secretEnvValues(root reflect.Value, prefix string, environ map[string]string) []string {
	var out []string
	walk(root, prefix, environ, func(l leaf) {
		if l.key != "" && isSecretType(l.typ) && environ[l.key] != "" {
			out = append(out, environ[l.key])
		}
	}, nil)
	return out
}

func asValidator(v reflect.Value) Validator {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return nil
	}
	if v.CanAddr() {
		if val, ok := v.Addr().Interface().(Validator); ok {
			return val
		}
	}
	if v.CanInterface() {
		if val, ok := v.Interface().(Validator); ok {
			return val
		}
	}
	return nil
}

// translate turns an env error into a *FieldError naming the variable.
func translate(e error, leaves []leaf, environ map[string]string, funcMap map[reflect.Type]env.ParserFunc) error {
	secretKey := func(key string) bool {
		for _, l := range leaves {
			if l.key == key {
				return isSecretType(l.typ)
			}
		}
		return false
	}
	var (
		notSet   env.VarIsNotSetError
		empty    env.EmptyVarError
		loadFile env.LoadFileContentError
		parse    env.ParseError
	)
	switch {
	case errors.As(e, &notSet):
		msg := "required but not set"
		if secretKey(notSet.Key) {
			msg += " (set " + notSet.Key + " or " + notSet.Key + FileSuffix + ")"
		}
		return &FieldError{Key: notSet.Key, Msg: msg}
	case errors.As(e, &empty):
		return &FieldError{Key: empty.Key, Msg: "must not be empty"}
	case errors.As(e, &loadFile):
		return &FieldError{Key: loadFile.Key, Msg: "read file: " + loadFile.Err.Error()}
	case errors.As(e, &parse):
		var keys []string
		var candidates []leaf
		for _, l := range leaves {
			if l.key != "" && l.name == parse.Name && l.typ == parse.Type {
				candidates = append(candidates, l)
			}
		}
		if len(candidates) > 1 { // same field name in two nested structs
			var failing []leaf
			for _, l := range candidates {
				if failsToParse(l, environ, funcMap) {
					failing = append(failing, l)
				}
			}
			candidates = failing
		}
		for _, l := range candidates {
			keys = append(keys, l.key)
		}
		if len(keys) == 0 {
			return e
		}
		msg := "invalid value: " + parse.Err.Error()
		if isSecretType(parse.Type) {
			msg = "invalid value"
		}
		return &FieldError{Key: strings.Join(keys, ", "), Msg: msg}
	}
	return e
}

// failsToParse parses one leaf's value on its own to find which of several
// same-named fields failed.
func failsToParse(l leaf, environ map[string]string, funcMap map[reflect.Type]env.ParserFunc) bool {
	val, ok := environ[l.key]
	if !ok || val == "" {
		if !l.hasDef {
			return false
		}
		val = l.def
	}
	tag := `env:"V"`
	for _, k := range []string{"envSeparator", "envKeyValSeparator"} {
		if s := l.sf.Tag.Get(k); s != "" {
			tag += fmt.Sprintf(" %s:%q", k, s)
		}
	}
	st := reflect.StructOf([]reflect.StructField{{Name: "V", Type: l.typ, Tag: reflect.StructTag(tag)}})
	p := reflect.New(st)
	return env.ParseWithOptions(p.Interface(), env.Options{Environment: map[string]string{"V": val}, FuncMap: funcMap}) != nil
}

func processEnviron() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// leaf is one field that env may set.
type leaf struct {
	key    string // full variable name, "" when the field has no env tag
	name   string // Go field name
	typ    reflect.Type
	sf     reflect.StructField
	v      reflect.Value
	def    string
	hasDef bool
}

// walk visits the fields of struct v the way caarlos0/env does: exported
// fields, envPrefix on nested structs, non-nil pointers to structs, anonymous
// struct types, and slices of structs (element i under "<prefix>_<i>_").
// onStruct (optional) is called for v and every nested struct. environ, when
// given, sizes a slice of structs that env has not filled yet (before
// parsing), so that KEY_FILE works for its elements' secrets too.
func walk(v reflect.Value, prefix string, environ map[string]string, onLeaf func(leaf), onStruct func(reflect.Value, string)) {
	if onStruct != nil {
		onStruct(v, prefix)
	}
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		fv := v.Field(i)
		if !sf.IsExported() {
			continue
		}
		ownKey, tagOpts, _ := strings.Cut(sf.Tag.Get("env"), ",")
		if ownKey == "-" || hasOpt(tagOpts, "-") {
			continue
		}
		childPrefix := prefix + sf.Tag.Get("envPrefix")
		if fv.Kind() == reflect.Pointer && sf.Type.Elem().Kind() == reflect.Struct {
			switch {
			case !fv.IsNil():
				walk(fv.Elem(), childPrefix, environ, onLeaf, onStruct)
			case hasOpt(tagOpts, "init"): // env allocates it; visit a zero value for its keys
				walk(reflect.New(sf.Type.Elem()).Elem(), childPrefix, environ, onLeaf, onStruct)
			}
			continue
		}
		if fv.Kind() == reflect.Struct && sf.Type.Name() == "" {
			walk(fv, childPrefix, environ, onLeaf, onStruct)
			continue
		}
		if fv.Kind() == reflect.Slice && sf.Type.Elem().Kind() == reflect.Struct {
			walkSlice(fv, childPrefix, environ, onLeaf, onStruct)
			continue
		}
		l := leaf{name: sf.Name, typ: sf.Type, sf: sf, v: fv}
		if ownKey != "" {
			l.key = prefix + ownKey
		}
		l.def, l.hasDef = sf.Tag.Lookup("envDefault")
		onLeaf(l)
		if fv.Kind() == reflect.Struct {
			walk(fv, childPrefix, environ, onLeaf, onStruct)
		}
	}
}

func hasOpt(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// walkSlice visits the elements of a slice of structs with the variable names
// env gives them: "<prefix>_0_FIELD", "<prefix>_1_FIELD"… An empty slice is
// sized from environ (consecutive indices that have a variable).
func walkSlice(fv reflect.Value, prefix string, environ map[string]string, onLeaf func(leaf), onStruct func(reflect.Value, string)) {
	if prefix != "" && !strings.HasSuffix(prefix, "_") {
		prefix += "_"
	}
	elemPrefix := func(i int) string { return prefix + strconv.Itoa(i) + "_" }
	if fv.Len() > 0 {
		for i := range fv.Len() {
			walk(fv.Index(i), elemPrefix(i), environ, onLeaf, onStruct)
		}
		return
	}
	for i := 0; ; i++ {
		p, found := elemPrefix(i), false
		for k := range environ {
			if strings.HasPrefix(k, p) {
				found = true
				break
			}
		}
		if !found {
			return
		}
		walk(reflect.New(fv.Type().Elem()).Elem(), p, environ, onLeaf, onStruct)
	}
}
