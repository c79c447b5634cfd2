using CsiDriver.Rpc;

namespace CsiDriver.Csi;

/// <summary>
/// Paging for the List calls. Entries are listed in id order and a token carries the last id
/// returned, so an entry created or deleted between pages neither repeats nor shifts the others.
/// </summary>
public static class Pages
{
    private const string TokenPrefix = "after:";

    public static (List<T> Page, string NextToken) Take<T>(IEnumerable<T> ordered, Func<T, string> id, int maxEntries, string startingToken, string call)
    {
        if (maxEntries < 0)
        {
            throw new RpcException(StatusCode.InvalidArgument, $"max_entries must not be negative (got {maxEntries})");
        }
        var after = "";
        if (startingToken.Length > 0)
        {
            if (!startingToken.StartsWith(TokenPrefix, StringComparison.Ordinal))
            {
                throw new RpcException(StatusCode.Aborted, $"starting_token '{startingToken}' was not returned by {call}");
            }
            after = startingToken[TokenPrefix.Length..];
        }
        var remaining = ordered.Where(e => string.CompareOrdinal(id(e), after) > 0).ToList();
        var page = maxEntries > 0 ? remaining.Take(maxEntries).ToList() : remaining;
        return (page, page.Count < remaining.Count ? TokenPrefix + id(page[^1]) : "");
    }
}
