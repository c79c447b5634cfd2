# Formation CSI plugin image: the published csidriver on the ASP.NET Core runtime, with the
# node-side tools it runs (mkfs, check and resize tools for ext4 and xfs, blkid). Volumes are
# attached by csidriver itself (FUSE and loop devices through their kernel interfaces). One
# image serves every role of deploy/: `csidriver controller` in the controller Deployment,
# `csidriver serve` and `csidriver session-holder` in the node DaemonSet; the manifests give
# the arguments. The build context is the repository less .dockerignore.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/CsiDriver/CsiDriver.csproj -c Release -o /out --nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0
RUN apt-get update \
 && apt-get install -y --no-install-recommends e2fsprogs xfsprogs util-linux \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out /opt/formation
ENTRYPOINT ["/opt/formation/csidriver"]
CMD ["serve", "--endpoint", "unix:///csi/csi.sock", "--data-dir", "/var/lib/formation"]
