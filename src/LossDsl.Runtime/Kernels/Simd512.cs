using System;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using VF = System.Runtime.Intrinsics.Vector512<float>;
using VI = System.Runtime.Intrinsics.Vector512<int>;
using VL = System.Runtime.Intrinsics.Vector512<long>;
using VUL = System.Runtime.Intrinsics.Vector512<ulong>;

namespace LossDsl.Kernels;

/// <summary>
/// The element-wise vocabulary of compiled kernel passes at one vector width: one <see cref="VF"/> of
/// float32 lanes per call, loads and stores at an element offset from a raw pointer, and the DSL's functions
/// in forms that are stable over the whole float range (the same formulas as the scalar helpers). Every
/// member is small and aggressively inlined, so a compiled pass is one straight loop body.
/// </summary>
/// <remarks>
/// This file is the source of every width: the build writes Simd256 and Simd128 from it with the width in
/// the type names replaced (target GenerateSimdWidths in LossDsl.Runtime.csproj). What differs by
/// instruction set (mask loads, the reciprocal estimate, scaling by 2^n) is in each width's own
/// <c>.Native.cs</c> part. A pass uses the widest width the hardware runs natively (<see cref="Simd.Native"/>):
/// a vector wider than the hardware is emulated, and compiled passes of emulated vectors are many times slower.
/// </remarks>
internal sealed unsafe partial class Simd512 : ISimd
{
    /// <summary>The one instance (the width's span functions, for the buffered evaluation).</summary>
    public static readonly Simd512 Instance = new();

    private Simd512() { }

    /// <summary>Float32 lanes per vector.</summary>
    public static readonly int Width = VF.Count;

    int ISimd.Lanes => VF.Count;

    int ISimd.Bits => VF.Count * 32;

    bool ISimd.IsHardwareAccelerated => Vector512.IsHardwareAccelerated;

    Type ISimd.Vector => typeof(VF);

    private static readonly float Ln2 = MathF.Log(2f);

    // log2 e, for the exponential's n = round(x · log2 e).
    private const float Log2E = 1.44269504f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Load(nint p, long i) => Unsafe.ReadUnaligned<VF>((float*)p + i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(nint p, long i, VF v) => Unsafe.WriteUnaligned((float*)p + i, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Splat(float value) => Vector512.Create(value);

    private static VF MaskBitsLanes(byte* bytes)
    {
        var lanes = stackalloc int[VI.Count];
        for (var k = 0; k < VI.Count; k++)
            lanes[k] = bytes[k] != 0 ? -1 : 0;
        return Unsafe.ReadUnaligned<VI>(lanes).AsSingle();
    }

    /// <summary>
    /// The class indices (int64) of a vector's pixels narrowed to int32 lanes, as the vector's bits: loaded and
    /// narrowed once per vector, then compared with each class (<see cref="ClassEquals"/>). Narrowing keeps the
    /// low 32 bits; an index outside the int32 range is outside [0, C) too, and the fused checks test the full
    /// int64 values (<see cref="IndexSuspect"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF LoadIndices(nint p, long i)
    {
        var index = (long*)p + i;
        return Vector512.Narrow(Unsafe.ReadUnaligned<VL>(index), Unsafe.ReadUnaligned<VL>(index + VL.Count)).AsSingle();
    }

    /// <summary>All bits set in the lanes whose narrowed class index (<see cref="LoadIndices"/>) is <paramref name="c"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF ClassEquals(VF indices, int c) => Vector512.Equals(indices.AsInt32(), Vector512.Create(c)).AsSingle();

    /// <summary>1 in the lanes whose bits are set, else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF OneWhere(VF bits) => bits & VF.One;

    /// <summary>
    /// <paramref name="p"/> with its sign bit set in the lanes where <paramref name="bits"/> are set: a kept softmax
    /// (never below +0) carries each pixel's target class this way, and <see cref="Abs"/> gives the value back exactly.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF SignWhere(VF bits, VF p) => p | (bits & Vector512.Create(-0f));

    /// <summary>True when every lane is 0 (either sign): a vector of background targets.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AllZero(VF t) => Vector512.EqualsAll(t, VF.Zero);

    /// <summary>True when every lane is exactly 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AllOne(VF t) => Vector512.EqualsAll(t, VF.One);

    /// <summary>All bits set in the lanes that are exactly 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF IsOne(VF t) => Vector512.Equals(t.AsUInt32(), Vector512.Create(0x3F800000u)).AsSingle();

    /// <summary>All bits set in the lanes that are neither +0 nor 1 (bit for bit: -0 and NaN included).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF NotZeroOrOne(VF t) =>
        ~(Vector512.Equals(t.AsUInt32(), Vector512<uint>.Zero) | Vector512.Equals(t.AsUInt32(), Vector512.Create(0x3F800000u))).AsSingle();

    /// <summary><see cref="CheckFlags.NotBinary"/> when any lane of <paramref name="bits"/> is set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int NotBinaryFlag(VF bits) => bits.AsUInt32() == Vector512<uint>.Zero ? 0 : (int)CheckFlags.NotBinary;

    /// <summary>All bits set in the lanes whose sign bit is set (-0 included), none elsewhere.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF SignBits(VF v) => Vector512.ShiftRightArithmetic(v.AsInt32(), 31).AsSingle();

    /// <summary>The lanes of <paramref name="a"/> where <paramref name="bits"/> are set, else those of <paramref name="b"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Select(VF bits, VF a, VF b) => Vector512.ConditionalSelect(bits, a, b);

    /// <summary>
    /// Stores a vector past the caches (a non-temporal store): the line is not read first, as a store through
    /// the caches must. The address must be aligned to the vector's size (the caller checks), and the pass ends
    /// with <see cref="StreamFence"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreStreaming(nint p, long i, VF v) => Vector512.StoreAlignedNonTemporal(v, (float*)p + i);

    /// <summary>Orders a pass's streaming stores before whatever follows it (other threads read them next).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StreamFence()
    {
        if (System.Runtime.Intrinsics.X86.Sse.IsSupported)
            System.Runtime.Intrinsics.X86.Sse.StoreFence();
        else
            System.Threading.Interlocked.MemoryBarrier();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF MultiplyAdd(VF a, VF b, VF c) => Vector512.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Reciprocal(VF x) => VF.One / x;

    /// <summary>
    /// e^x in float32 arithmetic: x = n·ln 2 + r with |r| ≤ ln2/2, e^r by a polynomial of degree 6
    /// (approximation error below 6e-9 relative, <see cref="ExpOfReduced"/>), and 2^n applied by <see cref="ScaleByPowerOfTwo"/>, so subnormal
    /// results come out right. 0 below -103.98, +∞ above ln(float.MaxValue), NaN for NaN. About 2 ulp; no
    /// float64 detour.
    /// </summary>
    /// <remarks>
    /// A vector whose lanes are all in the normal range (|n| ≤ 125, |x| below about 86.6, no NaN) takes a
    /// shorter path: 2^n is then one float's exponent bits and e^r·2^n one exact product, which are the
    /// bits the general path gives there, without its clamps, its two-step scaling and its fix-ups for
    /// NaN and underflow. Losses see such vectors nearly always (a logit beyond ±86 is rare), so the branch
    /// is predicted. On a double-pumped AVX2 core (Zen 1) it took a sigmoid loop from 34 to 27 cycles per vector.
    /// Where 2^n scales in one instruction (AVX-512's vscalefps) the general path is shorter than the short one
    /// with its test, and runs alone.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Exp(VF x)
    {
        if (ScalesInOneStep)
            return ExpAnyRange(x);
        var n = Vector512.Round(x * Vector512.Create(Log2E));
        if (Vector512.LessThanOrEqualAll(Vector512.Abs(n), Vector512.Create(125f)))
            return ScaleInNormalRange(ExpOfReduced(x, n), n);
        return ExpAnyRange(x);
    }

    /// <summary>
    /// e^x for every x, <see cref="Exp"/>'s general path: x clamped to [-104, 88.76] (a NaN comes back as NaN
    /// from the last select), the result scaled by <see cref="ScaleByPowerOfTwo"/>, 0 below -103.98.
    /// </summary>
    /// <remarks>Inlined like the fast path: a call would make the JIT keep a pass's live vectors in memory.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VF ExpAnyRange(VF x)
    {
        // The hardware's min and max (one instruction each; the IEEE ones take several on x86).
        var clamped = Vector512.MinNative(Vector512.MaxNative(x, Vector512.Create(-104f)), Vector512.Create(88.76f));
        var result = ExpOfClamped(clamped);
        // Scaling in one step rounds everything below -103.972 (where p·2^n < 2^-150) to 0 already.
        if (!ScalesInOneStep)
            result = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(-103.98f)), VF.Zero, result);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), result, x);
    }

    /// <summary>e^x for x in [-104, 88.76] (or NaN): n = round(x·log2 e), e^r scaled by <see cref="ScaleByPowerOfTwo"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VF ExpOfClamped(VF clamped)
    {
        var n = Vector512.Round(clamped * Vector512.Create(Log2E));
        return ScaleByPowerOfTwo(ExpOfReduced(clamped, n), n);
    }

    /// <summary>
    /// e^r for r = x - n·ln 2 (ln 2 in two parts, so r is exact to float32 rounding), |r| ≤ ln2/2: 1 + r·g(r), with
    /// g(r) = (e^r - 1)/r by its degree-5 Chebyshev interpolant on [-ln2/2, ln2/2] (5.1e-9 relative in exact
    /// arithmetic, against 5.9e-9 for the Taylor polynomial to r^7 it replaced, one FMA shorter; e^0 is exactly 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VF ExpOfReduced(VF x, VF n)
    {
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693145752f), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-1.42860677e-6f), r);
        var g = Vector512.Create(1.39336404e-3f);
        g = Vector512.FusedMultiplyAdd(g, r, Vector512.Create(8.36914871e-3f));
        g = Vector512.FusedMultiplyAdd(g, r, Vector512.Create(4.16664667e-2f));
        g = Vector512.FusedMultiplyAdd(g, r, Vector512.Create(1.66665047e-1f));
        g = Vector512.FusedMultiplyAdd(g, r, Vector512.Create(0.5f));
        g = Vector512.FusedMultiplyAdd(g, r, VF.One);
        return Vector512.FusedMultiplyAdd(g, r, VF.One);
    }

    /// <summary>p·2^n for an integral n with |n| ≤ 125 and p in [½, 2]: 2^n as exponent bits, one exact product.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VF ScaleInNormalRange(VF p, VF n) => p * TwoToThe(Vector512.ConvertToInt32Native(n));

    /// <summary>2^k for integral k in [-126, 127], as a float's exponent bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VF TwoToThe(VI k) => Vector512.ShiftLeft(k + Vector512.Create(127), 23).AsSingle();

    /// <summary>
    /// <see cref="Exp"/> as a call of its own: a pass that unrolls many classes inlines one exponential per class,
    /// and with 16 vector registers (below AVX-512) the JIT then keeps most values in memory; a call keeps
    /// each exponential's working set in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static VF ExpOutOfLine(VF x) => Exp(x);

    /// <summary>
    /// p·2^n for an integral n in [-150, 128], put into the exponent bits as 2^h · 2^(n-h) with h = n/2: both
    /// factors stay normal, so a subnormal result is rounded once and n = 128 overflows to +∞ as it should.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VF ScaleByExponentBits(VF p, VF n)
    {
        var ni = Vector512.ConvertToInt32Native(n); // n is integral and in range: no saturation needed
        var h = Vector512.ShiftRightArithmetic(ni, 1);
        return p * TwoToThe(h) * TwoToThe(ni - h);
    }

    /// <summary>
    /// log x in float32 arithmetic: x = m·2^e with m in [√½, √2), log m = 2 atanh(s) with
    /// s = (m-1)/(m+1) (|s| ≤ 0.172, series to s^9, truncation below 1e-9 relative). Subnormals are
    /// scaled first; log 0 = -∞, log of a negative number or NaN is NaN, log ∞ = ∞.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Log(VF x)
    {
        var subnormal = Vector512.LessThan(x, Vector512.Create(1.17549435e-38f));
        var y = Vector512.ConditionalSelect(subnormal, x * Vector512.Create(8388608f), x);
        var result = LogOfNormal(y) - Vector512.ConditionalSelect(subnormal, Vector512.Create(23f * 0.693147182f), VF.Zero);
        result = Vector512.ConditionalSelect(Vector512.Equals(x, VF.Zero), Vector512.Create(float.NegativeInfinity), result);
        result = Vector512.ConditionalSelect(Vector512.Equals(x, Vector512.Create(float.PositiveInfinity)), x, result);
        return Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, VF.Zero), result, Vector512.Create(float.NaN));
    }

    /// <summary>log x for a positive, finite, normal x (the core of <see cref="Log"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VF LogOfNormal(VF x)
    {
        var bits = x.AsInt32();
        var e = Vector512.ShiftRightArithmetic(bits, 23) - Vector512.Create(127);
        var m = ((bits & Vector512.Create(0x007fffff)) | Vector512.Create(0x3f800000)).AsSingle();
        var high = Vector512.GreaterThan(m, Vector512.Create(1.41421356f));
        m = Vector512.ConditionalSelect(high, m * Vector512.Create(0.5f), m);
        var ef = Vector512.ConvertToSingle(e - high.AsInt32()); // a set mask is -1: e + 1 where m was halved
        var f = m - VF.One;
        var s = f * ReciprocalNearOne(m + VF.One);
        var s2 = s * s;
        var q = Vector512.Create(2f / 9f);
        q = Vector512.FusedMultiplyAdd(q, s2, Vector512.Create(2f / 7f));
        q = Vector512.FusedMultiplyAdd(q, s2, Vector512.Create(2f / 5f));
        q = Vector512.FusedMultiplyAdd(q, s2, Vector512.Create(2f / 3f));
        q = Vector512.FusedMultiplyAdd(q, s2, Vector512.Create(2f));
        return Vector512.FusedMultiplyAdd(ef, Vector512.Create(0.693147182f), q * s);
    }

    /// <summary>log(1 + x), with the rounding of 1 + x corrected: log u - ((u - 1) - x)/u for u = 1 + x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Log1p(VF x)
    {
        var u = x + VF.One;
        var logU = Log(u);
        var corrected = logU - ((u - VF.One) - x) / u;
        // At u = ∞ (x = ∞) and u = 0 (x = -1) the correction is NaN; log u is the answer there.
        var ends = Vector512.Equals(u, Vector512.Create(float.PositiveInfinity)) | Vector512.Equals(u, VF.Zero);
        return Vector512.ConditionalSelect(ends, logU, corrected);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Sqrt(VF x) => Vector512.Sqrt(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Abs(VF x) => Vector512.Abs(x);

    /// <summary>a + b (the operator table's kernel function for +).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Add(VF a, VF b) => a + b;

    /// <summary>a - b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Subtract(VF a, VF b) => a - b;

    /// <summary>a · b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Multiply(VF a, VF b) => a * b;

    /// <summary>a / b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Divide(VF a, VF b) => a / b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Min(VF a, VF b) => Vector512.Min(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Max(VF a, VF b) => Vector512.Max(a, b);

    /// <summary>
    /// max with the hardware's rule for NaN (either operand may come back): one instruction where the IEEE max
    /// takes several. For the softmax shift, where a NaN logit stays NaN through x - max and e^(x - max).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF MaxNative(VF a, VF b) => Vector512.MaxNative(a, b);

    // The sigmoid family shares e^-|x| (one exponential per value, however many of σ(x), log σ(x),
    // softplus(x), softplus(-x) a spec uses) and log(1 + e^-|x|).

    /// <summary>
    /// e^-|x|, in [0, 1]: never overflows. Where 2^n scales in one step, with no branch and no test for NaN:
    /// -|x| is only clamped below, and the hardware's max hands a NaN through (see <see cref="ClampBelow"/>).
    /// The bits are <see cref="Exp"/>'s of -|x| everywhere.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF ExpNegAbs(VF x)
    {
        var a = -Vector512.Abs(x);
        if (!ScalesInOneStep)
            return Exp(a);
        return ExpOfClamped(ClampBelow(a, Vector512.Create(-104f)));
    }

    /// <summary>1 / (1 + e) for e = e^-|x|: σ(x) and σ(-x) share it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF ReciprocalOnePlus(VF e) => ReciprocalNearOne(VF.One + e);

    /// <summary>
    /// log(1 + e) for e = e^-|x| in [0, 1] (a NaN stays NaN): 2·atanh(s) with s = e/(2 + e) in [0, ⅓], by the
    /// series 2s·(1 + s²/3 + … + s¹²/13) (truncation below 1.5e-8 relative). Nothing cancels at small e (s is
    /// e/2 to rounding), no exponent is taken apart, and the one reciprocal is of 2 + e in [2, 3]: about half
    /// the operations of log(1 + e) with its rounding corrected, to the same few ulps. As 2s·q = e·(2/(2 + e))·q.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF SoftTail(VF e)
    {
        var r = ReciprocalNearOne(Vector512.Create(2f) + e);
        var s = e * r;
        var z = s * s;
        var q = Vector512.Create(2f / 13f);
        q = Vector512.FusedMultiplyAdd(q, z, Vector512.Create(2f / 11f));
        q = Vector512.FusedMultiplyAdd(q, z, Vector512.Create(2f / 9f));
        q = Vector512.FusedMultiplyAdd(q, z, Vector512.Create(2f / 7f));
        q = Vector512.FusedMultiplyAdd(q, z, Vector512.Create(2f / 5f));
        q = Vector512.FusedMultiplyAdd(q, z, Vector512.Create(2f / 3f));
        q = Vector512.FusedMultiplyAdd(q, z, Vector512.Create(2f));
        return e * (r * q); // not q·s: s = e/2 loses a bit where e is subnormal, the product rounds once
    }

    /// <summary>σ(x) from e = e^-|x| and r = 1/(1 + e): r for x ≥ 0, e·r below.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF SigmoidFrom(VF x, VF e, VF r) => Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, VF.Zero), r, e * r);

    /// <summary>log σ(x) = min(x, 0) - log(1 + e^-|x|), from that tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF LogSigmoidFrom(VF x, VF tail) => Vector512.MinNative(x, VF.Zero) - tail; // NaN x: the tail is NaN

    /// <summary>softplus(x) = max(x, 0) + log(1 + e^-|x|), from that tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF SoftplusFrom(VF x, VF tail) => Vector512.MaxNative(x, VF.Zero) + tail; // NaN x: the tail is NaN

    /// <summary>1 / (1 + e^-x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Sigmoid(VF x)
    {
        var e = ExpNegAbs(x);
        return SigmoidFrom(x, e, ReciprocalOnePlus(e));
    }

    /// <summary>log σ(x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF LogSigmoid(VF x)
    {
        var e = ExpNegAbs(x);
        return LogSigmoidFrom(x, SoftTail(e));
    }

    /// <summary>softplus(x) = log(1 + e^x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Softplus(VF x)
    {
        var e = ExpNegAbs(x);
        return SoftplusFrom(x, SoftTail(e));
    }

    /// <summary>log cosh x = |x| + log(1 + e^-2|x|) - log 2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF LogCosh(VF x)
    {
        var a = Vector512.Abs(x);
        return a + Log1p(Exp(a * -2f)) - Vector512.Create(Ln2);
    }

    /// <summary>
    /// tanh x: an odd polynomial below |x| = 0.625 (no cancellation near 0), 1 - 2 / (e^(2|x|) + 1) with the
    /// sign of x above (float32 accuracy, as Cephes' tanhf).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Tanh(VF x)
    {
        var a = Vector512.Abs(x);
        var s = x * x;
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(-5.70498872745e-3f), s, Vector512.Create(2.06390887954e-2f));
        p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(-5.37397155531e-2f));
        p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(1.33314422036e-1f));
        p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(-3.33332819422e-1f));
        var small = Vector512.FusedMultiplyAdd(p * s, x, x);
        // e^(2a) overflows to ∞ above a ≈ 44: 2 / ∞ = 0 and the result is exactly ±1.
        var large = VF.One - Vector512.Create(2f) / (Exp(a + a) + VF.One);
        large = Vector512.ConditionalSelect(Vector512.LessThan(x, VF.Zero), -large, large);
        return Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(0.625f)), small, large);
    }

    /// <summary>
    /// erf x: below |x| = 0.5 its Taylor series to x¹¹ (relative error below 1e-7, no cancellation near 0);
    /// above, Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7): 1 - (a₁t + … + a₅t⁵) e^(-x²),
    /// t = 1 / (1 + p|x|), with the sign of x.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Erf(VF x)
    {
        var a = Vector512.Abs(x);
        // 2/√π (x - x³/3 + x⁵/10 - x⁷/42 + x⁹/216 - x¹¹/1320).
        var s = x * x;
        var series = Vector512.FusedMultiplyAdd(Vector512.Create(-1f / 1320), s, Vector512.Create(1f / 216));
        series = Vector512.FusedMultiplyAdd(series, s, Vector512.Create(-1f / 42));
        series = Vector512.FusedMultiplyAdd(series, s, Vector512.Create(1f / 10));
        series = Vector512.FusedMultiplyAdd(series, s, Vector512.Create(-1f / 3));
        series = Vector512.FusedMultiplyAdd(series, s, VF.One) * x * Vector512.Create(1.1283791670955126f);
        var t = VF.One / Vector512.FusedMultiplyAdd(Vector512.Create(0.3275911f), a, VF.One);
        var q = Vector512.FusedMultiplyAdd(Vector512.Create(1.061405429f), t, Vector512.Create(-1.453152027f));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(1.421413741f));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(-0.284496736f));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(0.254829592f));
        var r = VF.One - q * t * Exp(-(a * a));
        r = Vector512.ConditionalSelect(Vector512.LessThan(x, VF.Zero), -r, r);
        return Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(0.5f)), series, r);
    }

    /// <summary>1 where x &gt; 0, else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Step(VF x) => Vector512.GreaterThan(x, VF.Zero) & VF.One;

    /// <summary>a^b: e^(b log a) for a ≥ 0 (with 0^0 = 1), lane by lane with <see cref="MathF.Pow"/> otherwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Pow(VF a, VF b)
    {
        if (Vector512.LessThanAny(a, VF.Zero))
            return PowLanes(a, b);
        var r = Exp(b * Log(a));
        return Vector512.ConditionalSelect(Vector512.Equals(b, VF.Zero), VF.One, r);
    }

    private static VF PowLanes(VF a, VF b)
    {
        var lanes = stackalloc float[VF.Count];
        for (var k = 0; k < VF.Count; k++)
            lanes[k] = MathF.Pow(a.GetElement(k), b.GetElement(k));
        return Unsafe.ReadUnaligned<VF>(lanes);
    }

    /// <summary>The lanes of both.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF Or(VF a, VF b) => a | b;

    /// <summary>
    /// The target check's accumulator: the lane-wise unsigned maximum of the targets' bits, one instruction per
    /// vector. Read as unsigned, the bits of +0 … 1 are at most those of 1f; a negative number (sign bit), NaN
    /// and +∞ are above. -0 is above too: a chunk with a -0 target is flagged, and the module's exact check then
    /// finds nothing wrong and runs the call without the fused checks (slower, the same values).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF MaxTargetBits(VF bits, VF t) => Vector512.Max(bits.AsUInt32(), t.AsUInt32()).AsSingle();

    /// <summary>
    /// All bits set in the lanes whose class index (int64) is outside [0, C) or equals <paramref name="ignore"/>
    /// (unsigned compare: a negative index is a huge one).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF IndexSuspect(nint p, long i, long classes, long ignore)
    {
        var index = (ulong*)p + i;
        var c = Vector512.Create((ulong)classes);
        var g = Vector512.Create((ulong)ignore);
        var lo = Unsafe.ReadUnaligned<VUL>(index);
        var hi = Unsafe.ReadUnaligned<VUL>(index + VUL.Count);
        var badLo = Vector512.GreaterThanOrEqual(lo, c) | Vector512.Equals(lo, g);
        var badHi = Vector512.GreaterThanOrEqual(hi, c) | Vector512.Equals(hi, g);
        return Vector512.Narrow(badLo, badHi).AsSingle();
    }

    /// <summary>
    /// The check flags of a chunk from its accumulators: the FMA sum of x·0 (NaN where an input was not finite),
    /// the largest target bits (above those of 1f where a target was outside [0, 1], or -0) and the bits of
    /// suspect class indices.
    /// </summary>
    public static int Flags(VF inputSum, VF targetBits, VF suspectIndex) =>
        (Vector512.EqualsAll(inputSum, inputSum) ? 0 : (int)CheckFlags.Input)
        | (Vector512.LessThanOrEqualAll(targetBits.AsUInt32(), Vector512.Create(0x3F800000u)) ? 0 : (int)CheckFlags.Target)
        | (suspectIndex != VF.Zero ? (int)CheckFlags.Index : 0);

    private static readonly ConcurrentDictionary<string, Func<VF, VF>> Unaries = new();
    private static readonly ConcurrentDictionary<string, Func<VF, VF, VF>> Binaries = new();

    private static Func<VF, VF> UnaryNamed(string kernel) =>
        Unaries.GetOrAdd(
            kernel,
            name =>
                (
                    typeof(Simd512).GetMethod(name, new[] { typeof(VF) })
                    ?? throw new InvalidOperationException($"{nameof(Simd512)} has no {name}({typeof(VF).Name})")
                ).CreateDelegate<Func<VF, VF>>()
        );

    private static Func<VF, VF, VF> BinaryNamed(string kernel) =>
        Binaries.GetOrAdd(
            kernel,
            name =>
                (
                    typeof(Simd512).GetMethod(name, new[] { typeof(VF), typeof(VF) })
                    ?? throw new InvalidOperationException($"{nameof(Simd512)} has no {name}({typeof(VF).Name}, {typeof(VF).Name})")
                ).CreateDelegate<Func<VF, VF, VF>>()
        );

    /// <inheritdoc />
    public void Apply(string kernel, ReadOnlySpan<float> x, Span<float> dst)
    {
        var f = UnaryNamed(kernel);
        var i = 0;
        for (; i + Width <= x.Length; i += Width)
            f(Vector512.Create(x.Slice(i, Width))).CopyTo(dst.Slice(i, Width));
        if (i == x.Length)
            return;
        Span<float> lanes = stackalloc float[Width];
        lanes.Clear();
        x.Slice(i).CopyTo(lanes);
        Span<float> result = stackalloc float[Width];
        f(Vector512.Create((ReadOnlySpan<float>)lanes)).CopyTo(result);
        result.Slice(0, x.Length - i).CopyTo(dst.Slice(i));
    }

    /// <inheritdoc />
    public void Apply(
        string kernel,
        ReadOnlySpan<float> a,
        float aScalar,
        bool aIsScalar,
        ReadOnlySpan<float> b,
        float bScalar,
        bool bIsScalar,
        Span<float> dst
    )
    {
        var f = BinaryNamed(kernel);
        var sa = Vector512.Create(aScalar);
        var sb = Vector512.Create(bScalar);
        var i = 0;
        for (; i + Width <= dst.Length; i += Width)
        {
            var va = aIsScalar ? sa : Vector512.Create(a.Slice(i, Width));
            var vb = bIsScalar ? sb : Vector512.Create(b.Slice(i, Width));
            f(va, vb).CopyTo(dst.Slice(i, Width));
        }
        if (i == dst.Length)
            return;
        Span<float> la = stackalloc float[Width];
        Span<float> lb = stackalloc float[Width];
        la.Fill(aIsScalar ? aScalar : 0f);
        lb.Fill(bIsScalar ? bScalar : 0f);
        if (!aIsScalar)
            a.Slice(i).CopyTo(la);
        if (!bIsScalar)
            b.Slice(i).CopyTo(lb);
        Span<float> result = stackalloc float[Width];
        f(Vector512.Create((ReadOnlySpan<float>)la), Vector512.Create((ReadOnlySpan<float>)lb)).CopyTo(result);
        result.Slice(0, dst.Length - i).CopyTo(dst.Slice(i));
    }

    /// <summary>The sum of the lanes, in float64.</summary>
    public static double Sum(VF v)
    {
        double total = 0;
        for (var k = 0; k < VF.Count; k++)
            total += v.GetElement(k);
        return total;
    }
}
