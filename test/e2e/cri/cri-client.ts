// A small typed CRI client: the runtime.v1 RuntimeService and ImageService calls the CRI test
// needs, encoded with the protobuf-es code generated from ./proto/cri.proto, carried by
// GrpcUnixClient over containerd's socket.
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import type { DescMethodUnary } from '@bufbuild/protobuf';
import {
  ImageService,
  RuntimeService,
  type ContainerStatus,
  type Container,
  type ExecSyncResponse,
  type Image,
  type PodSandbox,
  type StatusResponse,
  type VersionResponse,
  ContainerConfigSchema,
  PodSandboxConfigSchema,
} from './gen/cri_pb.js';
import { GrpcUnixClient } from './grpc-unix.js';

/** Init shape of a PodSandboxConfig (plain object, nested messages as objects). */
export type PodSandboxConfigInit = MessageInitShape<typeof PodSandboxConfigSchema>;
/** Init shape of a ContainerConfig. */
export type ContainerConfigInit = MessageInitShape<typeof ContainerConfigSchema>;

/** Client for containerd's CRI plugin (runtime.v1). */
export class CriClient {
  private constructor(private readonly grpc: GrpcUnixClient, private readonly timeoutMs: number) {}

  /**
   * Connects to the containerd gRPC socket.
   * @param socketPath containerd's `[grpc] address`
   * @param timeoutMs per-call deadline
   */
  static async connect(socketPath: string, timeoutMs = 20_000): Promise<CriClient> {
    return new CriClient(await GrpcUnixClient.connect(socketPath), timeoutMs);
  }

  private async invoke<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>, init: MessageInitShape<I>, timeoutMs = this.timeoutMs,
  ): Promise<MessageShape<O>> {
    const path = `/${method.parent.typeName}/${method.name}`;
    const reply = await this.grpc.unary(path, toBinary(method.input, create(method.input, init)), timeoutMs);
    return fromBinary(method.output, reply);
  }

  /** RuntimeService.Version. */
  version(): Promise<VersionResponse> {
    return this.invoke(RuntimeService.method.version, { version: 'v1' });
  }

  /** RuntimeService.Status: the RuntimeReady / NetworkReady conditions. */
  status(): Promise<StatusResponse> {
    return this.invoke(RuntimeService.method.status, { verbose: false });
  }

  /** RuntimeService.RunPodSandbox; resolves with the sandbox id. */
  async runPodSandbox(config: PodSandboxConfigInit, runtimeHandler: string): Promise<string> {
    const reply = await this.invoke(RuntimeService.method.runPodSandbox, { config, runtimeHandler });
    return reply.podSandboxId;
  }

  /** RuntimeService.StopPodSandbox. */
  async stopPodSandbox(podSandboxId: string): Promise<void> {
    await this.invoke(RuntimeService.method.stopPodSandbox, { podSandboxId });
  }

  /** RuntimeService.RemovePodSandbox. */
  async removePodSandbox(podSandboxId: string): Promise<void> {
    await this.invoke(RuntimeService.method.removePodSandbox, { podSandboxId });
  }

  /** RuntimeService.ListPodSandbox, optionally filtered by labels. */
  async listPodSandbox(labelSelector: Record<string, string> = {}): Promise<PodSandbox[]> {
    const reply = await this.invoke(RuntimeService.method.listPodSandbox, { filter: { labelSelector } });
    return reply.items;
  }

  /** RuntimeService.CreateContainer; resolves with the container id. */
  async createContainer(podSandboxId: string, config: ContainerConfigInit, sandboxConfig: PodSandboxConfigInit): Promise<string> {
    const reply = await this.invoke(RuntimeService.method.createContainer, { podSandboxId, config, sandboxConfig });
    return reply.containerId;
  }

  /** RuntimeService.StartContainer. */
  async startContainer(containerId: string): Promise<void> {
    await this.invoke(RuntimeService.method.startContainer, { containerId });
  }

  /** RuntimeService.StopContainer: stop signal, then SIGKILL after `timeoutSeconds`. */
  async stopContainer(containerId: string, timeoutSeconds: number): Promise<void> {
    // The call itself may take the whole grace period.
    await this.invoke(RuntimeService.method.stopContainer, { containerId, timeout: BigInt(timeoutSeconds) },
      this.timeoutMs + timeoutSeconds * 1000);
  }

  /** RuntimeService.RemoveContainer. */
  async removeContainer(containerId: string): Promise<void> {
    await this.invoke(RuntimeService.method.removeContainer, { containerId });
  }

  /** RuntimeService.ListContainers, optionally limited to one sandbox. */
  async listContainers(podSandboxId = ''): Promise<Container[]> {
    const reply = await this.invoke(RuntimeService.method.listContainers, { filter: { podSandboxId } });
    return reply.containers;
  }

  /** RuntimeService.ContainerStatus. */
  async containerStatus(containerId: string): Promise<ContainerStatus> {
    const reply = await this.invoke(RuntimeService.method.containerStatus, { containerId, verbose: false });
    if (reply.status === undefined) throw new Error(`ContainerStatus ${containerId}: reply has no status`);
    return reply.status;
  }

  /** RuntimeService.ExecSync: runs `cmd` in the container and collects its output and exit code. */
  execSync(containerId: string, cmd: string[], timeoutSeconds = 30): Promise<ExecSyncResponse> {
    return this.invoke(RuntimeService.method.execSync, { containerId, cmd, timeout: BigInt(timeoutSeconds) },
      this.timeoutMs + timeoutSeconds * 1000);
  }

  /** ImageService.ImageStatus; undefined when the CRI plugin does not know the image. */
  async imageStatus(image: string): Promise<Image | undefined> {
    const reply = await this.invoke(ImageService.method.imageStatus, { image: { image }, verbose: false });
    return reply.image;
  }

  /** Closes the connection. */
  close(): void {
    this.grpc.close();
  }
}
