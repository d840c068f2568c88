package import NIOCore

/// Runs tasks on one event loop: tasks that prefer it (`withTaskExecutorPreference`,
/// `addTask(executorPreference:)`) talk to that loop's channels without a thread hand-off.
///
/// Without it, a request crosses threads five times: the client's task hands the frame to
/// its event loop, the server's event loop hands it to a task on the global pool, the query
/// runs as a child task, the answer goes back to the server's event loop, and the client's
/// event loop resumes the waiting task on the pool. On a loaded two-core machine each
/// wake-up costs tens of microseconds: a ping took about 0.2 ms.
///
/// The server runs each connection's tasks on the connection's event loop; storage work
/// still leaves it (the dispatcher's thread pool). The client offers its loop
/// (`TelemetryClient.taskExecutor`) to callers that want the lowest latency.
package final class EventLoopTaskExecutor: TaskExecutor {
    package let eventLoop: any EventLoop

    package init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
