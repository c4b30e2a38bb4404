using System;
using Xunit;

namespace LossDsl.Tests.Kernels;

public class NativeAllocatorTests
{
    [Fact]
    public void RetainFreedMemoryAppliesOnGlibcAndChecksItsArguments()
    {
        // glibc's mallopt accepts these; the call is idempotent.
        if (OperatingSystem.IsLinux())
        {
            Assert.True(NativeAllocator.RetainFreedMemory());
            Assert.True(NativeAllocator.RetainFreedMemory(16 << 20, 1 << 30));
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => NativeAllocator.RetainFreedMemory(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => NativeAllocator.RetainFreedMemory(1 << 20, -1));
    }
}
