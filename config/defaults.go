package config

import (
	_ "embed"
	"fmt"
)

// defaultsName is the file name errors about the embedded defaults carry.
const defaultsName = "<embedded defaults>"

// defaultTOML is the commented default configuration; it is also the
// documentation of every key.
//
//go:embed default.toml
var defaultTOML string

// DefaultTOML returns the embedded default configuration file, with a
// comment on every key, e.g. for installing as /etc/loginjail/loginjail.toml.
func DefaultTOML() string { return defaultTOML }

// Default returns the embedded defaults, already validated. It panics if
// the embedded file is broken (a test makes sure it is not). Every call
// returns a fresh Config the caller may change.
func Default() *Config {
	c, err := parse(defaultsName, defaultTOML, &Config{})
	if err != nil {
		panic(fmt.Sprintf("config: embedded defaults are invalid: %v", err))
	}
	return c
}
