using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using LossDsl.Kernels.Cuda;
using LossDsl.Tests.EndToEnd;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LossDsl.Tests.Cuda;

/// <summary>
/// The printed CUDA programs run, not only compile: each is compiled as host C++ with a small emulation of the
/// CUDA execution model (every thread of a block an OS thread, <c>__syncthreads</c> a barrier, warp shuffles
/// through a per-block buffer, atomics as host atomics), launched kernel by kernel in the printed order with the
/// printed grids, and its loss value and gradient compared with the float64 reference interpreter and its
/// autograd. Without a GPU this checks the whole printed program: the pass structure, the slot layout, the block
/// sums, the statistics and seeds between passes, the value and the gradient. Tolerance 2e-4 relative, as the CPU
/// kernel's tests (float32 arithmetic against float64).
/// </summary>
public class CudaEmulationTests
{
    // The CUDA names the printed code uses, for the host compiler.
    private const string Shim = """
        #include <math.h>
        #include <string.h>
        #include <barrier>
        #include <functional>
        #include <thread>
        #include <vector>
        struct ld_dim3 { unsigned int x, y, z; };
        static thread_local ld_dim3 threadIdx, blockIdx;
        static ld_dim3 blockDim, gridDim;
        static std::barrier<>* ld_barrier;
        static std::vector<std::barrier<>*> ld_warps;
        static double ld_lanes[1024];
        #define __global__
        #define __device__
        #define __forceinline__ inline
        #define __launch_bounds__(n)
        #define __restrict__
        #define __shared__ static
        static inline void __syncthreads() { ld_barrier->arrive_and_wait(); }
        // A warp's 32 lanes exchange values through a buffer between two waits on the warp's barrier.
        static inline double __shfl_down_sync(unsigned int, double v, int offset)
        {
            std::barrier<>* warp = ld_warps[threadIdx.x / 32];
            ld_lanes[threadIdx.x] = v;
            warp->arrive_and_wait();
            int lane = threadIdx.x & 31;
            double r = lane + offset < 32 ? ld_lanes[threadIdx.x + offset] : v;
            warp->arrive_and_wait();
            return r;
        }
        static inline void atomicOr(unsigned long long* p, unsigned long long v) { __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }
        static inline void atomicMin(unsigned long long* p, unsigned long long v)
        {
            unsigned long long current = __atomic_load_n(p, __ATOMIC_SEQ_CST);
            while (v < current && !__atomic_compare_exchange_n(p, &current, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) { }
        }
        static inline float __uint_as_float(unsigned int u) { float f; memcpy(&f, &u, 4); return f; }
        static inline unsigned int __float_as_uint(float f) { unsigned int u; memcpy(&u, &f, 4); return u; }
        static void ld_launch(unsigned int gx, unsigned int gy, unsigned int block, const std::function<void()>& kernel)
        {
            gridDim = { gx, gy, 1 };
            blockDim = { block, 1, 1 };
            for (unsigned int y = 0; y < gy; ++y)
                for (unsigned int x = 0; x < gx; ++x)
                {
                    std::barrier<> barrier((std::ptrdiff_t)block);
                    ld_barrier = &barrier;
                    std::vector<std::barrier<>*> warps;
                    for (unsigned int w = 0; w < (block + 31) / 32; ++w) warps.push_back(new std::barrier<>((std::ptrdiff_t)(block < 32 ? block : 32)));
                    ld_warps = warps;
                    std::vector<std::thread> threads;
                    for (unsigned int t = 0; t < block; ++t)
                        threads.emplace_back([&, t, x, y] { threadIdx = { t, 0, 0 }; blockIdx = { x, y, 0 }; kernel(); });
                    for (auto& th : threads) th.join();
                    for (auto* w : warps) delete w;
                }
        }
        template <typename T> static std::vector<T> ld_read(const char* path, size_t n)
        {
            std::vector<T> v(n);
            FILE* f = fopen(path, "rb");
            if (!f || fread(v.data(), sizeof(T), n, f) != n) { fprintf(stderr, "cannot read %s\n", path); exit(2); }
            fclose(f);
            return v;
        }
        template <typename T> static void ld_write(const char* path, const T* v, size_t n)
        {
            FILE* f = fopen(path, "wb");
            fwrite(v, sizeof(T), n, f);
            fclose(f);
        }
        """;

    private const int Blocks = 2;

    // The driver's expression for each kernel parameter, by the printed name.
    private static readonly Dictionary<string, string> Arguments = new()
    {
        ["x"] = "x.data()",
        ["t"] = "t.data()",
        ["idx"] = "idx.data()",
        ["mask"] = "mask.data()",
        ["grad"] = "grad.data()",
        ["stats"] = "stats.data()",
        ["partials"] = "partials.data()",
        ["check"] = "check",
        ["classWeights"] = "classWeights.data()",
        ["posWeights"] = "posWeights.data()",
        ["valid"] = "valid.data()",
        ["value"] = "value",
        ["scale"] = "scale",
        ["blocks"] = "blocks",
        ["N"] = "N",
        ["S"] = "S",
        ["ignore"] = "ignore",
    };

    // The host program: reads the inputs, launches every kernel in the printed order, writes value, gradient, check.
    private static string Driver(CudaProgram program, int n, int c, long s, bool index)
    {
        var sb = new StringBuilder();
        sb.AppendLine("int main(void)").AppendLine("{");
        sb.AppendLine($"    const long long N = {n}, S = {s}, blocks = {Blocks}, ignore = -100;");
        sb.AppendLine($"    std::vector<float> x = ld_read<float>(\"x.bin\", {n * c * s});");
        sb.AppendLine(
            index
                ? $"    std::vector<long long> idx = ld_read<long long>(\"t.bin\", {n * s}); std::vector<float> t(1);"
                : $"    std::vector<float> t = ld_read<float>(\"t.bin\", {n * c * s}); std::vector<long long> idx(1);"
        );
        sb.AppendLine($"    std::vector<unsigned char> mask = ld_read<unsigned char>(\"mask.bin\", {n * s});");
        sb.AppendLine($"    std::vector<double> classWeights = ld_read<double>(\"w.bin\", {c});");
        sb.AppendLine($"    std::vector<double> posWeights = ld_read<double>(\"pw.bin\", {c});");
        sb.AppendLine($"    std::vector<float> grad({n * c * s});");
        sb.AppendLine($"    std::vector<double> stats({Math.Max(1, program.StatNodes) * n * c}, 0.0);");
        sb.AppendLine($"    std::vector<double> partials({n * Blocks * Math.Max(1, program.Slots)}, 0.0);");
        sb.AppendLine($"    std::vector<double> valid({n}, 0.0);");
        sb.AppendLine("    unsigned long long check[2] = { 0ull, ~0ull };");
        sb.AppendLine("    float value[1] = { 0.0f };");
        sb.AppendLine("    double scale[1] = { 1.0 };");
        foreach (var kernel in program.Kernels)
        {
            var name = kernel.Name;
            var call = $"{name}({string.Join(", ", kernel.Parameters.Select(p => Arguments[p]))})";
            var (gx, gy, block) = kernel.Grid switch
            {
                CudaGrid.Pixels => ($"{Blocks}", "N", CudaPrinter.BlockSize),
                CudaGrid.Samples => ("N", "1", CudaPrinter.BlockSize),
                _ => ("1", "1", 1),
            };
            sb.AppendLine($"    ld_launch((unsigned){gx}, (unsigned){gy}, {block}, [&] {{ {call}; }});");
        }
        sb.AppendLine("    ld_write(\"value.bin\", value, 1);");
        sb.AppendLine($"    ld_write(\"grad.bin\", grad.data(), {n * c * s});");
        sb.AppendLine("    ld_write(\"check.bin\", check, 2);");
        sb.AppendLine("    return 0;").AppendLine("}");
        return sb.ToString();
    }

    public static TheoryData<string, bool> Cases()
    {
        // Every catalog loss with a kernel plan (the printer's input), with and without a mask.
        var data = new TheoryData<string, bool>();
        foreach (var e in LossCatalog.All.Where(e => typeof(LossModule).IsAssignableFrom(e.Type)))
        {
            using var module = (LossModule)e.Create();
            foreach (var masked in new[] { false, true })
                if (module.KernelFor(masked) is not null)
                    data.Add(e.Name, masked);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ThePrintedProgramComputesTheReferenceLossAndGradient(string name, bool masked)
    {
        var entry = LossCatalog.Find(name)!;
        using var module = (LossModule)entry.Create();
        var kernel = module.KernelFor(masked) ?? throw new InvalidOperationException($"{name}: no kernel plan");
        using var scope = NewDisposeScope();
        var multiclass = entry.Task == LossTask.Multiclass;
        int n = 2,
            c = multiclass ? 3 : 1;
        long s = 300; // two blocks of 256 threads: a partial block, and a thread with no pixel
        var g = new Generator(4242);
        var x = (rand(new long[] { n, c, s }, dtype: float64, generator: g) * 2 - 1) * 4;
        var index = multiclass && !entry.Name.StartsWith("multilabel", StringComparison.Ordinal);
        Tensor t = index
            ? randint(0, c, new long[] { n, s }, dtype: int64, generator: g)
            : rand(new long[] { n, c, s }, dtype: float64, generator: g).gt(0.6).to(float64);
        var m = masked ? rand(new long[] { n, s }, dtype: float64, generator: g).gt(0.3) : null;
        var weights = multiclass && module.UsesClassWeights ? new[] { 0.5, 2.0, 1.5 } : Enumerable.Repeat(1.0, c).ToArray();
        if (multiclass && module.UsesClassWeights)
            module.With(classWeights: tensor(weights));
        var posWeights = multiclass && module.UsesPosWeights ? new[] { 1.5, 0.5, 3.0 } : Enumerable.Repeat(1.0, c).ToArray();
        if (multiclass && module.UsesPosWeights)
            module.With(posWeights: tensor(posWeights));

        // The reference: the interpreter in float64 and its autograd.
        var x64 = x.detach().requires_grad_(true);
        var reference = module.Reference(x64, t, m);
        reference.backward();

        var program = CudaPrinter.Print(kernel.Plan, new CudaKey(c, index, CudaDType.Float32, Sum: false, Check: true), name);
        var (value, grad, check) = Run(program, n, c, s, index, x, t, m, weights, posWeights);

        Assert.Equal(0ul, check[0]);
        var rv = reference.ToDouble();
        Assert.True(Math.Abs(value - rv) <= 2e-4 * Math.Max(1, Math.Abs(rv)), $"{name} masked={masked}: value {value} vs reference {rv}");
        var rg = x64.grad!.flatten().data<double>().ToArray();
        var gradScale = Math.Max(1e-12, rg.Max(Math.Abs));
        var worst = rg.Select((r, i) => Math.Abs(grad[i] - r)).Max();
        Assert.True(worst <= 2e-4 * gradScale, $"{name} masked={masked}: gradient differs by {worst:E3} (scale {gradScale:E3})");
    }

    [Fact]
    public void TheFusedChecksFlagTheFirstBadElement()
    {
        using var module = (LossModule)LossCatalog.Find("bce")!.Create();
        var plan = module.KernelFor(masked: false)!.Plan;
        using var scope = NewDisposeScope();
        long s = 300;
        var x = zeros(new long[] { 2, 1, s }, dtype: float64);
        x[1, 0, 17] = tensor(double.NaN);
        x[1, 0, 250] = tensor(double.PositiveInfinity);
        var t = zeros(new long[] { 2, 1, s }, dtype: float64);
        t[0, 0, 5] = tensor(1.5);
        var program = CudaPrinter.Print(plan, new CudaKey(1, false, CudaDType.Float32, Sum: false, Check: true), "bce");
        var (_, _, check) = Run(program, 2, 1, s, false, x, t, null, new[] { 1.0 }, new[] { 1.0 });
        Assert.Equal(1ul | 2ul, check[0]); // a non-finite prediction and a target outside [0, 1]
        Assert.Equal(5ul, check[1]); // the smallest flat index of the offending elements: t[0, 0, 5]
    }

    private static (double Value, float[] Grad, ulong[] Check) Run(
        CudaProgram program,
        int n,
        int c,
        long s,
        bool index,
        Tensor x,
        Tensor t,
        Tensor? m,
        double[] weights,
        double[] posWeights
    )
    {
        var gxx = CudaPrinterTests.FindCompiler();
        var work = Directory.CreateTempSubdirectory("lossdsl-cuda-run-");
        try
        {
            void Write<T>(string file, T[] data)
                where T : unmanaged
            {
                var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()).ToArray();
                File.WriteAllBytes(Path.Combine(work.FullName, file), bytes);
            }
            Write("x.bin", x.to(float32).contiguous().flatten().data<float>().ToArray());
            if (index)
                Write("t.bin", t.contiguous().flatten().data<long>().ToArray());
            else
                Write("t.bin", t.to(float32).contiguous().flatten().data<float>().ToArray());
            Write(
                "mask.bin",
                m is null ? Enumerable.Repeat((byte)1, (int)(n * s)).ToArray() : m.to(ScalarType.Byte).flatten().data<byte>().ToArray()
            );
            Write("w.bin", weights);
            Write("pw.bin", posWeights);
            var source = Path.Combine(work.FullName, "program.cpp");
            var body = program.Source.Replace("extern \"C\" ", "", StringComparison.Ordinal);
            File.WriteAllText(source, Shim + "\n" + body + "\n" + Driver(program, n, c, s, index));
            var binary = Path.Combine(work.FullName, "program");
            var (code, output) = CudaPrinterTests.Run(
                gxx,
                $"-std=c++20 -O1 -pthread -DLD_HOST_TEST -o \"{binary}\" \"{source}\"",
                null,
                work.FullName
            );
            Assert.True(code == 0, "the printed program does not compile as host C++:\n" + output);
            var (runCode, runOutput) = CudaPrinterTests.Run(binary, "", null, work.FullName);
            Assert.True(runCode == 0, "the emulated program failed:\n" + runOutput);
            var value = BitConverter.ToSingle(File.ReadAllBytes(Path.Combine(work.FullName, "value.bin")));
            var grad = System
                .Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Path.Combine(work.FullName, "grad.bin")))
                .ToArray();
            var check = System
                .Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(File.ReadAllBytes(Path.Combine(work.FullName, "check.bin")))
                .ToArray();
            return (value, grad, check);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }
}
