package classifier

import "math"

// The functions training uses, written so that every platform computes
// them bit for bit alike: Go may fuse x*y + z into one FMA instruction
// on arm64 (Lambda's Graviton) and not on amd64, and the math package's
// Exp and Log are assembly on some platforms and Go on others. Each
// product here is rounded by an explicit float64 conversion, which the
// language guarantees is never fused; the rest are additions, divisions,
// square roots and exact scalings, which IEEE 754 rounds alike everywhere.

// exp is e**x.
func exp(x float64) float64 {
	switch {
	case x != x:
		return x
	case x > 709:
		return math.Inf(1)
	case x < -745:
		return 0
	}
	// x = k·ln2 + r, |r| ≤ ln2/2; e**r by its Taylor series.
	k := math.Floor(float64(x*math.Log2E) + 0.5)
	r := x - float64(k*ln2Hi) - float64(k*ln2Lo)
	sum, term := 1.0, 1.0
	for i := 1; i <= 18; i++ {
		term = float64(term*r) / float64(i)
		sum += term
	}
	return math.Ldexp(sum, int(k))
}

// ln2 split in two, so k·ln2Hi is exact for the k exp needs.
const (
	ln2Hi = 6.93147180369123816490e-01
	ln2Lo = 1.90821492927058770002e-10
)

// log is the natural logarithm of x > 0.
func log(x float64) float64 {
	switch {
	case x != x || x < 0:
		return math.NaN()
	case x == 0:
		return math.Inf(-1)
	case math.IsInf(x, 1):
		return x
	}
	m, e := math.Frexp(x) // x = m·2**e, m in [0.5, 1)
	if m < math.Sqrt2/2 {
		m, e = float64(m*2), e-1
	}
	// log m = 2·atanh(s), s = (m−1)/(m+1), |s| < 0.172.
	s := (m - 1) / (m + 1)
	s2 := float64(s * s)
	sum, pow := 0.0, s
	for i := 1; i <= 39; i += 2 {
		sum += pow / float64(i)
		pow = float64(pow * s2)
	}
	return float64(2*sum) + float64(float64(e)*ln2Hi) + float64(float64(e)*ln2Lo)
}

// tanh is the hyperbolic tangent.
func tanh(x float64) float64 {
	if x > 20 {
		return 1
	}
	if x < -20 {
		return -1
	}
	e := exp(float64(2 * x))
	return (e - 1) / (e + 1)
}

// sigmoid is 1/(1+e**−x).
func sigmoid(x float64) float64 { return 1 / (1 + exp(-x)) }

// sincos returns sin x and cos x by their Taylor series after reducing x
// to [−π, π].
func sincos(x float64) (sin, cos float64) {
	const twoPi = 2 * math.Pi
	x -= float64(twoPi * math.Floor(x/twoPi+0.5))
	x2 := float64(x * x)
	term := x
	sin = x
	for i := 3; i <= 31; i += 2 {
		term = -float64(term*x2) / float64(i*(i-1))
		sin += term
	}
	term, cos = 1, 1
	for i := 2; i <= 30; i += 2 {
		term = -float64(term*x2) / float64(i*(i-1))
		cos += term
	}
	return sin, cos
}
