# Formation CSI plugin image: the published csidriver on the ASP.NET Core runtime, with the
# node-side tools it runs (nbdfuse and a loop device where /dev/nbd* is absent; mkfs and
# resize tools for ext4 and xfs). One image serves both roles of deploy/: `csidriver
# controller` in the controller Deployment and `csidriver serve` in the node DaemonSet; the
# manifests give the arguments. The build context is the repository less .dockerignore.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/CsiDriver/CsiDriver.csproj -c Release -o /out --nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0
RUN apt-get update \
 && apt-get install -y --no-install-recommends libnbd-bin e2fsprogs xfsprogs util-linux fuse3 mount \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out /opt/formation
ENTRYPOINT ["/opt/formation/csidriver"]
CMD ["serve", "--endpoint", "unix:///csi/csi.sock", "--data-dir", "/var/lib/formation"]
