namespace CsiDriver.Engine.Nbd;

/// <summary>
/// Judges a request before it reaches the device: known command, flags valid for it and
/// negotiated, export writable, range inside the export, alignment and length limits.
/// Returns the error to reply with, or <see cref="NbdError.None"/>.
/// </summary>
internal static class NbdRequestValidator
{
    public static NbdError Validate(in NbdRequestHeader request, NbdSession session, NbdServerOptions options)
    {
        var flags = session.Flags;
        var allowedFlags = flags.HasFlag(NbdTransmissionFlags.SendFua) ? NbdCommandFlags.Fua : NbdCommandFlags.None;
        switch (request.Command)
        {
            case NbdCommand.Read:
                if (flags.HasFlag(NbdTransmissionFlags.SendDoNotFragment))
                {
                    allowedFlags |= NbdCommandFlags.DoNotFragment;
                }
                break;
            case NbdCommand.Write or NbdCommand.Trim or NbdCommand.WriteZeroes when session.IsReadOnly:
                return NbdError.NotPermitted;
            case NbdCommand.Write or NbdCommand.Trim:
                break;
            case NbdCommand.WriteZeroes:
                allowedFlags |= NbdCommandFlags.NoHole;
                break;
            case NbdCommand.Flush when flags.HasFlag(NbdTransmissionFlags.SendFlush):
                return request.Offset == 0 && request.Length == 0 && (request.Flags & ~allowedFlags) == 0
                    ? NbdError.None
                    : NbdError.InvalidArgument;
            default:
                // CACHE, BLOCK_STATUS (no metadata context is ever negotiated), FLUSH on a
                // read-only export, and anything unknown.
                return NbdError.InvalidArgument;
        }
        if ((request.Flags & ~allowedFlags) != 0)
        {
            return NbdError.InvalidArgument;
        }
        return ValidateRange(request, session, options);
    }

    private static NbdError ValidateRange(in NbdRequestHeader request, NbdSession session, NbdServerOptions options)
    {
        var alignmentMask = (ulong)options.MinimumBlockSize - 1;
        if (request.Length == 0
            || (request.Command is NbdCommand.Read && request.Length > (uint)options.MaxPayloadBytes)
            || ((request.Offset | request.Length) & alignmentMask) != 0)
        {
            return NbdError.InvalidArgument;
        }
        var size = (ulong)session.Size;
        if (request.Offset > size || request.Length > size - request.Offset)
        {
            // The protocol asks for ENOSPC when a write reaches past the end of the export.
            return request.Command is NbdCommand.Read ? NbdError.InvalidArgument : NbdError.NoSpace;
        }
        return NbdError.None;
    }
}
