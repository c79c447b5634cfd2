namespace CsiDriver.ConformanceTests.Infrastructure;

public static class Messages
{
    /// <summary>Changes one field of a request built elsewhere, e.g. to blank a required field.</summary>
    public static T With<T>(this T message, Action<T> change)
    {
        change(message);
        return message;
    }
}
