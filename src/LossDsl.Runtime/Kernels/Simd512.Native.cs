using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using VF = System.Runtime.Intrinsics.Vector512<float>;
using VI = System.Runtime.Intrinsics.Vector512<int>;

namespace LossDsl.Kernels;

/// <summary>The 512-bit width's instruction-set parts: AVX-512 where the hardware has it.</summary>
internal sealed unsafe partial class Simd512
{
    /// <summary>All bits set in the lanes whose mask byte (bool tensor) is non-zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF MaskBits(nint p, long i)
    {
        var bytes = (byte*)p + i;
        if (Avx512F.IsSupported)
            return Vector512.GreaterThan(Avx512F.ConvertToVector512Int32(Vector128.Load(bytes)), VI.Zero).AsSingle();
        return MaskBitsLanes(bytes);
    }

    /// <summary>
    /// 1/x for x in [1, 4] (the denominators inside log, σ and softplus): the 14-bit hardware estimate
    /// refined by one Newton step (about 1 ulp) instead of a division, which costs several times more.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VF ReciprocalNearOne(VF x)
    {
        if (!Avx512F.IsSupported)
            return VF.One / x;
        var r = Avx512F.Reciprocal14(x);
        return Vector512.FusedMultiplyAdd(r, Vector512.FusedMultiplyAdd(-x, r, VF.One), r);
    }

    /// <summary>
    /// True where <see cref="ScaleByPowerOfTwo"/> is one instruction: the exponentials then take their general
    /// path alone, with no branch on the range (16 operations against 19 for the short path and its test on a
    /// Zen 4 core, and no branch to mispredict).
    /// </summary>
    private static bool ScalesInOneStep => Avx512F.IsSupported;

    /// <summary>
    /// max(x, low) for a constant <paramref name="low"/>, a NaN x kept NaN: vmaxps returns its second operand
    /// when either is NaN, and x is the second. (Used only where <see cref="ScalesInOneStep"/>.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VF ClampBelow(VF x, VF low) => Avx512F.IsSupported ? Avx512F.Max(low, x) : Vector512.Max(x, low);

    /// <summary>
    /// p·2^n for an integral n in [-150, 128]: one instruction (vscalefps), correctly rounded, which
    /// overflows to +∞ and goes subnormal on its own.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VF ScaleByPowerOfTwo(VF p, VF n) => Avx512F.IsSupported ? Avx512F.Scale(p, n) : ScaleByExponentBits(p, n);
}
