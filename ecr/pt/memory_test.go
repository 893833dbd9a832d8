package pt

import "github.com/posbridge/posbridge/store"

// The journal keeps the PT's memory (wired in cmd/posbridge); ecr/pt itself
// never imports the store.
var _ Memory = store.ECRMemory{}
