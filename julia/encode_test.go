package julia

import (
	"bytes"
	"context"
	"hash/adler32"
	"image"
	"image/png"
	"math/rand/v2"
	"testing"
)

func TestParallelEncodingDecodesToTheSamePixels(t *testing.T) {
	for _, size := range [][2]int{{1, 1}, {3, 7}, {64, 48}, {127, 5}, {300, 301}} {
		p := Params{C: complex(-0.7, 0.27015), Zoom: 1, Width: size[0], Height: size[1], Depth: 80, Colormap: "terrain"}
		img, _, err := Render(context.Background(), p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, procs := range []int{2, 3, 8} {
			var buf bytes.Buffer
			if err := encodeParallel(&buf, img, procs); err != nil {
				t.Fatal(err)
			}
			got, err := png.Decode(&buf)
			if err != nil {
				t.Fatalf("%v with %d bands: %v", size, procs, err)
			}
			pal, ok := got.(*image.Paletted)
			if !ok || !bytes.Equal(pal.Pix, img.Pix) || len(pal.Palette) != len(img.Palette) {
				t.Fatalf("%v with %d bands: decoded image differs", size, procs)
			}
			for i := range pal.Palette {
				if pal.Palette[i] != img.Palette[i] {
					t.Fatalf("palette entry %d: got %v, want %v", i, pal.Palette[i], img.Palette[i])
				}
			}
		}
	}
}

func TestEncodeUsesTheParallelPathForLargeImagesAndStaysSmall(t *testing.T) {
	img, _, err := Render(context.Background(), standard, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ours, std bytes.Buffer
	if err := Encode(&ours, img); err != nil {
		t.Fatal(err)
	}
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&std, img); err != nil {
		t.Fatal(err)
	}
	if got, err := png.Decode(bytes.NewReader(ours.Bytes())); err != nil || !bytes.Equal(got.(*image.Paletted).Pix, img.Pix) {
		t.Fatalf("decode: %v", err)
	}
	if ratio := float64(ours.Len()) / float64(std.Len()); ratio > 1.02 {
		t.Errorf("parallel PNG is %.3f× image/png's size at the same level, want within 2%%", ratio)
	}
}

func TestAdler32Combine(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		a, b := make([]byte, r.IntN(70000)), make([]byte, r.IntN(70000))
		for i := range a {
			a[i] = byte(r.IntN(256))
		}
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		want := adler32.Checksum(append(append([]byte{}, a...), b...))
		if got := adler32Combine(adler32.Checksum(a), adler32.Checksum(b), len(b)); got != want {
			t.Fatalf("combine(%d, %d bytes): got %08x, want %08x", len(a), len(b), got, want)
		}
	}
}
