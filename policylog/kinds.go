package policylog

// A policy version is a policy the log can parse, diff and hand to a
// border: the matcher and action kinds its rules name are the ones package
// border defines and registers.
import _ "github.com/splinter-lab/splinter/border"
