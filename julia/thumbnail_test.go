package julia

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"testing"
)

// TestAThumbnailIsTheImageShrunkByMeans: a render's thumbnail, added whole
// or tile by tile in any order, is the same picture, its proportions kept,
// each pixel the mean of the block it covers; a 4096² render's is a few
// kilobytes.
func TestAThumbnailIsTheImageShrunkByMeans(t *testing.T) {
	p := Params{C: complex(-0.7, 0.27015), Zoom: 1, Width: 512, Height: 256, Depth: 64, Colormap: "magma"}
	img, _, err := Render(context.Background(), p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	whole := NewThumbnail(512, 256, 128, img.Palette)
	whole.Add(img.Rect, img.Pix)
	if whole.W != 128 || whole.H != 64 {
		t.Fatalf("thumbnail %d×%d of 512×256, want 128×64", whole.W, whole.H)
	}
	tiled := NewThumbnail(512, 256, 128, img.Palette)
	tiles := p.Tiles(100, 100)
	for i := len(tiles) - 1; i >= 0; i-- { // the last first: order does not matter
		r := tiles[i].Rect
		sub := img.SubImage(r).(*image.Paletted)
		idx := make([]uint8, 0, r.Dx()*r.Dy())
		for y := r.Min.Y; y < r.Max.Y; y++ {
			idx = append(idx, sub.Pix[sub.PixOffset(r.Min.X, y):sub.PixOffset(r.Max.X, y)]...)
		}
		tiled.Add(r, idx)
	}
	a, b := whole.Image(), tiled.Image()
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Errorf("the thumbnail added tile by tile differs from the one added whole")
	}
	// Pixel (10, 20) of the thumbnail is the mean of the 4×4 block at (40, 80).
	var r, g, bl int
	for y := 80; y < 84; y++ {
		for x := 40; x < 44; x++ {
			c := img.Palette[img.ColorIndexAt(x, y)]
			cr, cg, cb, _ := c.RGBA()
			r, g, bl = r+int(cr>>8), g+int(cg>>8), bl+int(cb>>8)
		}
	}
	if got := a.NRGBAAt(10, 20); int(got.R) != r/16 || int(got.G) != g/16 || int(got.B) != bl/16 || got.A != 255 {
		t.Errorf("pixel (10, 20) is %v, want the block's mean %d,%d,%d", got, r/16, g/16, bl/16)
	}
	var buf bytes.Buffer
	if err := whole.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if cfg, err := png.DecodeConfig(&buf); err != nil || cfg.Width != 128 || cfg.Height != 64 {
		t.Errorf("the encoded thumbnail: %+v %v", cfg, err)
	}
	small := NewThumbnail(40, 30, 128, img.Palette)
	if small.W != 40 || small.H != 30 {
		t.Errorf("a thumbnail of an image smaller than its side is %d×%d, want the image's 40×30", small.W, small.H)
	}
}
