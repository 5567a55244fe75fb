package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/longrun/longrun/internal/cli"
)

// complexFlag parses "RE+IMi" (also "RE", "IMi", "(RE+IMi)").
type complexFlag struct{ v *complex128 }

func (f complexFlag) String() string {
	if f.v == nil {
		return ""
	}
	return strconv.FormatComplex(*f.v, 'g', -1, 128)
}

func (f complexFlag) Set(s string) error {
	v, err := strconv.ParseComplex(strings.TrimSpace(s), 128)
	if err != nil {
		return errors.New("want a complex number such as -0.7+0.27015i")
	}
	*f.v = v
	return nil
}

// sizeFlag parses "WIDTHxHEIGHT" or a single number for a square.
type sizeFlag struct{ w, h *int }

func (f sizeFlag) String() string {
	if f.w == nil {
		return ""
	}
	return fmt.Sprintf("%dx%d", *f.w, *f.h)
}

func (f sizeFlag) Set(s string) error {
	ws, hs, found := strings.Cut(strings.ToLower(s), "x")
	if !found {
		hs = ws
	}
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if err1 != nil || err2 != nil {
		return errors.New("want WIDTHxHEIGHT such as 1024x768")
	}
	*f.w, *f.h = w, h
	return nil
}

var parse = cli.Parse
