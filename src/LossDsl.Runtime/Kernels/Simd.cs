using System;
using System.Collections.Immutable;
using System.Globalization;

namespace LossDsl.Kernels;

/// <summary>
/// One vector width of the kernel's vocabulary (<see cref="Simd512"/>, <see cref="Simd256"/>,
/// <see cref="Simd128"/>): the static functions a compiled pass calls, and the same functions over spans for
/// the buffered evaluation, so every element gets the compiled pass's formula.
/// </summary>
internal interface ISimd
{
    /// <summary>Float32 lanes per vector.</summary>
    int Lanes { get; }

    /// <summary>Bits per vector.</summary>
    int Bits { get; }

    /// <summary>Whether the hardware runs vectors of this width natively (not emulated).</summary>
    bool IsHardwareAccelerated { get; }

    /// <summary>The vector type of float32 lanes the compiled passes use.</summary>
    Type Vector { get; }

    /// <summary>dst[i] = f(x[i]) for the width's unary function named <paramref name="kernel"/>.</summary>
    void Apply(string kernel, ReadOnlySpan<float> x, Span<float> dst);

    /// <summary>
    /// dst[i] = f(a[i], b[i]) for the width's binary function named <paramref name="kernel"/>; an operand
    /// given as a scalar (its span empty) is broadcast.
    /// </summary>
    void Apply(
        string kernel,
        ReadOnlySpan<float> a,
        float aScalar,
        bool aIsScalar,
        ReadOnlySpan<float> b,
        float bScalar,
        bool bIsScalar,
        Span<float> dst
    );
}

/// <summary>The vector widths of the kernels, and the one they use on this machine.</summary>
internal static class Simd
{
    /// <summary>The environment variable that forces a width (512, 256 or 128 bits), for comparisons.</summary>
    public const string WidthVariable = "LOSSDSL_VECTOR_BITS";

    /// <summary>Every width, widest first.</summary>
    public static readonly ImmutableArray<ISimd> All = ImmutableArray.Create<ISimd>(Simd512.Instance, Simd256.Instance, Simd128.Instance);

    private static readonly Lazy<ISimd> Chosen = new(() => Choose(Environment.GetEnvironmentVariable(WidthVariable)));

    /// <summary>
    /// The width the kernels use: the widest one the hardware runs natively (AVX-512: 512 bits; AVX2: 256;
    /// otherwise 128, which every 64-bit target runs natively), unless <see cref="WidthVariable"/> names one.
    /// </summary>
    public static ISimd Native => Chosen.Value;

    /// <summary>The width of this many bits per vector, or null when there is none (tests pick widths by it).</summary>
    internal static ISimd? OfBits(int bits)
    {
        foreach (var width in All)
            if (width.Bits == bits)
                return width;
        return null;
    }

    /// <summary>The width named by the environment variable's value, or the widest native one when it is unset.</summary>
    internal static ISimd Choose(string? bits)
    {
        if (string.IsNullOrWhiteSpace(bits))
        {
            foreach (var width in All)
                if (width.IsHardwareAccelerated)
                    return width;
            return Simd128.Instance;
        }
        foreach (var width in All)
            if (bits.Trim() == width.Bits.ToString(CultureInfo.InvariantCulture))
                return width;
        throw new InvalidOperationException(
            $"{WidthVariable}={bits}: expected 512, 256 or 128 (the kernels' vector width in bits), or unset for the widest the hardware runs natively"
        );
    }
}
