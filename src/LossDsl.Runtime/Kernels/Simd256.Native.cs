using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using VF = System.Runtime.Intrinsics.Vector256<float>;
using VI = System.Runtime.Intrinsics.Vector256<int>;

namespace LossDsl.Kernels;

/// <summary>The 256-bit width's instruction-set parts: AVX2 where the hardware has it.</summary>
internal sealed unsafe partial class Simd256
{
    /// <summary>All bits set in the lanes whose mask byte (bool tensor) is non-zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF MaskBits(nint p, long i)
    {
        var bytes = (byte*)p + i;
        if (Avx2.IsSupported)
            return Vector256.GreaterThan(Avx2.ConvertToVector256Int32(bytes), VI.Zero).AsSingle();
        return MaskBitsLanes(bytes);
    }

    /// <summary>
    /// 1/x for x in [1, 4] (the denominators inside log, σ and softplus): a division, since AVX's 12-bit
    /// estimate needs two Newton steps to reach float32 accuracy and costs as much.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VF ReciprocalNearOne(VF x) => VF.One / x;

    /// <summary>p·2^n for an integral n in [-150, 128], through the exponent bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VF ScaleByPowerOfTwo(VF p, VF n) => ScaleByExponentBits(p, n);

    /// <summary>False: 2^n goes into the exponent bits in two steps, and the exponentials keep their short path.</summary>
    private static bool ScalesInOneStep => false;

    /// <summary>max(x, low) (not used: <see cref="ScalesInOneStep"/> is false).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VF ClampBelow(VF x, VF low) => Vector256.Max(x, low);
}
