package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/longrun/longrun/internal/atomicfile"
	"github.com/longrun/longrun/julia"
)

// runRender renders one image: the original fractal script's command line.
func runRender(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	p := julia.Params{Zoom: 1, Width: 1024, Height: 1024, Depth: 256, Colormap: julia.DefaultColormap}
	var (
		out, counts string
		workers     int
		haveC       bool
	)
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	c := complexFlag{&p.C}
	fs.Func("c", "the constant c of z → z² + c, such as -0.7+0.27015i (required)", func(s string) error {
		haveC = true
		return c.Set(s)
	})
	size := sizeFlag{&p.Width, &p.Height}
	fs.Var(size, "size", "image size in pixels, WIDTHxHEIGHT")
	fs.Var(size, "s", "short for --size")
	fs.IntVar(&p.Depth, "depth", p.Depth, "maximum iterations per pixel")
	fs.IntVar(&p.Depth, "d", p.Depth, "short for --depth")
	fs.Float64Var(&p.Zoom, "zoom", p.Zoom, "magnification; 1 shows [-1, 1] on the longer side")
	fs.Float64Var(&p.Zoom, "z", p.Zoom, "short for --zoom")
	fs.Var(complexFlag{&p.Center}, "center", "the point at the image's centre, such as 0+0i")
	fs.StringVar(&p.Colormap, "colormap", p.Colormap, fmt.Sprintf("one of %v", julia.Colormaps()))
	fs.StringVar(&p.Colormap, "m", p.Colormap, "short for --colormap")
	fs.StringVar(&out, "o", "julia.png", "the PNG file to write")
	fs.StringVar(&counts, "counts", "", "also write the escape counts to this file as a PGM (maxval: the depth)")
	fs.IntVar(&workers, "workers", 0, "goroutines to render with (default: all cores)")
	if err := parse(fs, args, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if !haveC {
		return usagef("render: flag --c is required, such as --c=-0.7+0.27015i")
	}
	if workers < 0 {
		return usagef("render: flag --workers must be 0 (all cores) or more")
	}
	if err := p.Validate(); err != nil {
		var pe *julia.ParamError
		if errors.As(err, &pe) {
			name := map[string]string{"width": "size", "height": "size"}[pe.Field]
			if name == "" {
				name = pe.Field
			}
			return usagef("render: flag --%s: %s %s", name, pe.Field, pe.Rule)
		}
		return err
	}

	if counts != "" && p.Depth > julia.MaxPGMDepth {
		return usagef("render: flag --counts: a PGM holds counts up to %d; depth %d may pass that", julia.MaxPGMDepth, p.Depth)
	}
	defer quietCollector(p.Width, p.Height)()
	// One pass writes the PNG (and the PGM): the counts are coloured and
	// encoded in bands; past 4096² they are computed in strips and kept in
	// a temporary file beside the PNG until their range is known.
	var st julia.PNGStats
	write := func(png, pgm io.Writer) (err error) {
		st, err = julia.WritePNG(ctx, png, p, julia.Options{Workers: workers}, filepath.Dir(out), pgm)
		return err
	}
	err := atomicfile.Write(out, 0o644, func(png io.Writer) error {
		if counts == "" {
			return write(png, nil)
		}
		return atomicfile.Write(counts, 0o644, func(pgm io.Writer) error { return write(png, pgm) })
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%dx%d, depth %d: %d iterations in %.1f ms (%.0f M/s); PNG in %.1f ms → %s\n",
		p.Width, p.Height, p.Depth, st.Iterations, ms(st.Duration), float64(st.Iterations)/st.Duration.Seconds()/1e6, ms(st.Encode), out)
	return nil
}

// quietCollector keeps the garbage collector from running during a render
// of width×height unless the heap passes what the render needs (its
// counts, image and PNG, about 6 bytes a pixel, and room besides): the
// heap is the counts and image, live until the command exits, so a
// collection frees nothing. On the standard case two collections cost
// about a tenth of the whole command. It returns the function that puts
// the collector's settings back.
//
// Past 4096² (the counts then go through a file in strips) the collector
// runs as usual: garbage of the bands would otherwise pile up.
func quietCollector(width, height int) (restore func()) {
	if int64(width)*int64(height) > 4096*4096 {
		return func() {}
	}
	const room = 256 << 20
	limit := int64(math.MaxInt64)
	if px := int64(width) * int64(height); px < (math.MaxInt64-room)/8 {
		limit = 8*px + room
	}
	oldLimit := debug.SetMemoryLimit(limit)
	oldPercent := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
