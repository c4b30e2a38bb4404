using System.Collections.Generic;
using System.Linq;

namespace LossDsl.Kernels.Cuda;

/// <summary>
/// The per-element device functions printed CUDA code calls: one <c>ld_</c> function per entry of the
/// operator table (named after its <c>Simd</c> vector function), in float and in double, plus the few
/// structural ones (step, pow, min, max, the σ/log σ/softplus family). The header compiles as CUDA
/// (NVRTC) and as plain host C++ (<c>LD_HOST_TEST</c>), so the arithmetic of generated GPU code is tested on
/// the CPU against the reference interpreter.
/// </summary>
internal static class CudaMath
{
    /// <summary>The device function for an element-wise function of the operator table.</summary>
    public static string FunctionName(ElementFunction function) => "ld_" + function.Kernel.ToLowerInvariant();

    /// <summary>The function names the header defines (for the test that every table entry has one).</summary>
    public static IReadOnlyList<string> Defined { get; } =
        new[]
        {
            "ld_sigmoid",
            "ld_logsigmoid",
            "ld_softplus",
            "ld_log",
            "ld_log1p",
            "ld_exp",
            "ld_sqrt",
            "ld_abs",
            "ld_logcosh",
            "ld_tanh",
            "ld_erf",
            "ld_step",
            "ld_pow",
            "ld_min",
            "ld_max",
        };

    /// <summary>The header, included at the top of every printed kernel.</summary>
    public const string Header = """
        // LossDsl device math: float arithmetic for float32/float16/bfloat16 inputs, double for float64.
        #ifdef LD_HOST_TEST
        #include <math.h>
        #define LD_FN static inline
        #else
        #define LD_FN __device__ __forceinline__
        #endif

        LD_FN float ld_exp(float x) { return expf(x); }
        LD_FN double ld_exp(double x) { return exp(x); }
        LD_FN float ld_log(float x) { return logf(x); }
        LD_FN double ld_log(double x) { return log(x); }
        LD_FN float ld_log1p(float x) { return log1pf(x); }
        LD_FN double ld_log1p(double x) { return log1p(x); }
        LD_FN float ld_sqrt(float x) { return sqrtf(x); }
        LD_FN double ld_sqrt(double x) { return sqrt(x); }
        LD_FN float ld_abs(float x) { return fabsf(x); }
        LD_FN double ld_abs(double x) { return fabs(x); }
        LD_FN float ld_tanh(float x) { return tanhf(x); }
        LD_FN double ld_tanh(double x) { return tanh(x); }
        LD_FN float ld_erf(float x) { return erff(x); }
        LD_FN double ld_erf(double x) { return erf(x); }
        LD_FN float ld_pow(float a, float b) { return powf(a, b); }
        LD_FN double ld_pow(double a, double b) { return pow(a, b); }
        // NaN-propagating, as torch.minimum/maximum and the CPU kernel's vector min/max on NaN inputs of the checks.
        LD_FN float ld_min(float a, float b) { return (a != a || a < b) ? a : b; }
        LD_FN double ld_min(double a, double b) { return (a != a || a < b) ? a : b; }
        LD_FN float ld_max(float a, float b) { return (a != a || a > b) ? a : b; }
        LD_FN double ld_max(double a, double b) { return (a != a || a > b) ? a : b; }
        LD_FN float ld_step(float x) { return x > 0.0f ? 1.0f : 0.0f; }
        LD_FN double ld_step(double x) { return x > 0.0 ? 1.0 : 0.0; }
        // σ, log σ and softplus from e^-|x|: no overflow for any x, no cancellation for large |x|.
        LD_FN float ld_sigmoid(float x) { float e = expf(-fabsf(x)); float r = 1.0f / (1.0f + e); return x >= 0.0f ? r : e * r; }
        LD_FN double ld_sigmoid(double x) { double e = exp(-fabs(x)); double r = 1.0 / (1.0 + e); return x >= 0.0 ? r : e * r; }
        LD_FN float ld_logsigmoid(float x) { return fminf(x, 0.0f) - log1pf(expf(-fabsf(x))); }
        LD_FN double ld_logsigmoid(double x) { return fmin(x, 0.0) - log1p(exp(-fabs(x))); }
        LD_FN float ld_softplus(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }
        LD_FN double ld_softplus(double x) { return fmax(x, 0.0) + log1p(exp(-fabs(x))); }
        // log cosh x = |x| + log1p(e^-2|x|) - log 2.
        LD_FN float ld_logcosh(float x) { float a = fabsf(x); return a + log1pf(expf(-2.0f * a)) - 0.69314718f; }
        LD_FN double ld_logcosh(double x) { double a = fabs(x); return a + log1p(exp(-2.0 * a)) - 0.69314718055994531; }
        """;

    /// <summary>Every element-wise function of the operator table that has no device function (empty when complete).</summary>
    public static IEnumerable<string> Missing() => Operators.ElementFunctions.Select(FunctionName).Where(n => !Defined.Contains(n));
}
