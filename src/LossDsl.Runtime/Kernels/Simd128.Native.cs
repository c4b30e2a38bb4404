using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using VF = System.Runtime.Intrinsics.Vector128<float>;
using VI = System.Runtime.Intrinsics.Vector128<int>;

namespace LossDsl.Kernels;

/// <summary>
/// The 128-bit width's parts, in portable vector operations only: this width runs where neither wider one
/// is native (SSE-only x64, Arm64's NEON).
/// </summary>
internal sealed unsafe partial class Simd128
{
    /// <summary>All bits set in the lanes whose mask byte (bool tensor) is non-zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static VF MaskBits(nint p, long i)
    {
        // Four bytes widened twice to four int32 lanes.
        var bytes = Vector128.CreateScalar(Unsafe.ReadUnaligned<uint>((byte*)p + i)).AsByte();
        var lanes = Vector128.WidenLower(Vector128.WidenLower(bytes)).AsInt32();
        return Vector128.GreaterThan(lanes, VI.Zero).AsSingle();
    }

    /// <summary>1/x for x in [1, 4] (the denominators inside log, σ and softplus): a division.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VF ReciprocalNearOne(VF x) => VF.One / x;

    /// <summary>p·2^n for an integral n in [-150, 128], through the exponent bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VF ScaleByPowerOfTwo(VF p, VF n) => ScaleByExponentBits(p, n);

    /// <summary>False: 2^n goes into the exponent bits in two steps, and the exponentials keep their short path.</summary>
    private static bool ScalesInOneStep => false;

    /// <summary>max(x, low) (not used: <see cref="ScalesInOneStep"/> is false).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static VF ClampBelow(VF x, VF low) => Vector128.Max(x, low);
}
