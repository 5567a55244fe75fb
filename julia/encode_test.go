package julia

import (
	"bytes"
	"context"
	"hash/adler32"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

// Encode's PNG decodes to the image, and its bytes are the same however
// many cores wrote it and however its rows were handed over.
func TestEncodingDecodesToTheSamePixelsWhateverTheCores(t *testing.T) {
	for _, size := range [][2]int{{1, 1}, {3, 7}, {64, 48}, {127, 5}, {300, 301}, {70, 130}} {
		p := Params{C: complex(-0.7, 0.27015), Zoom: 1, Width: size[0], Height: size[1], Depth: 80, Colormap: "terrain"}
		img, _, err := Render(context.Background(), p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var first []byte
		for _, procs := range []int{1, 2, 3, 8} {
			old := runtime.GOMAXPROCS(procs)
			var buf bytes.Buffer
			err := Encode(&buf, img)
			runtime.GOMAXPROCS(old)
			if err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = buf.Bytes()
			} else if !bytes.Equal(buf.Bytes(), first) {
				t.Fatalf("%v: the PNG written on %d cores differs from the one on 1", size, procs)
			}
			got, err := png.Decode(&buf)
			if err != nil {
				t.Fatalf("%v on %d cores: %v", size, procs, err)
			}
			pal, ok := got.(*image.Paletted)
			if !ok || !bytes.Equal(pal.Pix, img.Pix) || len(pal.Palette) != len(img.Palette) {
				t.Fatalf("%v on %d cores: decoded image differs", size, procs)
			}
			for i := range pal.Palette {
				if pal.Palette[i] != img.Palette[i] {
					t.Fatalf("palette entry %d: got %v, want %v", i, pal.Palette[i], img.Palette[i])
				}
			}
		}
		// Row by row, or in uneven pieces: the same bytes.
		for _, step := range []int{1, 5, BandRows + 3} {
			var buf bytes.Buffer
			pw, err := NewPNGWriter(&buf, size[0], size[1], img.Palette)
			if err != nil {
				t.Fatal(err)
			}
			for y := 0; y < size[1]; y += step {
				if err := pw.WriteRows(img.Pix[y*size[0] : min(y+step, size[1])*size[0]]); err != nil {
					t.Fatal(err)
				}
			}
			if err := pw.Close(); err != nil || !bytes.Equal(buf.Bytes(), first) {
				t.Fatalf("%v written %d rows at a time: %v, or other bytes", size, step, err)
			}
		}
	}
}

func TestPNGWriterRefusesTheWrongRows(t *testing.T) {
	pal := colormaps[DefaultColormap].Palette()
	pw, _ := NewPNGWriter(io.Discard, 4, 2, pal)
	if err := pw.WriteRows(make([]byte, 5)); err == nil {
		t.Error("5 bytes of rows of 4 were taken")
	}
	pw, _ = NewPNGWriter(io.Discard, 4, 2, pal)
	pw.WriteRows(make([]byte, 4))
	if err := pw.Close(); err == nil {
		t.Error("closed after 1 of 2 rows")
	}
	if _, err := NewPNGWriter(io.Discard, 0, 2, pal); err == nil {
		t.Error("a PNG 0 wide was begun")
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
		if got := adler32Combine(1, adler32.Checksum(b), len(b)); got != adler32.Checksum(b) {
			t.Fatalf("combine after nothing: %08x, want %08x", got, adler32.Checksum(b))
		}
		if got := adler32Combine(adler32.Checksum(a), adler32.Checksum(b), len(b)); got != want {
			t.Fatalf("combine(%d, %d bytes): got %08x, want %08x", len(a), len(b), got, want)
		}
	}
}
