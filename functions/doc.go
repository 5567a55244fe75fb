// Package functions holds the three Lambda entry points (api, render,
// notify) and the wiring they share.
package functions
