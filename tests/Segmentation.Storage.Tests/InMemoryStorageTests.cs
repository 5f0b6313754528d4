namespace Segmentation.Storage.Tests;

public sealed class InMemoryEventLogTests : EventLogConformanceTests
{
    protected override Task<IEventLog> CreateAsync() => Task.FromResult<IEventLog>(new InMemoryEventLog());
}

public sealed class InMemorySnapshotStoreTests : SnapshotStoreConformanceTests
{
    protected override Task<ISnapshotStore> CreateAsync() => Task.FromResult<ISnapshotStore>(new InMemorySnapshotStore());
}
